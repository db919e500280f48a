package k8s

import (
	"context"
	"errors"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// agentPod is a pod of run-1's Job in the given state.
func agentPod(name string, phase corev1.PodPhase, state corev1.ContainerState) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
			LabelName: AppName, LabelInstance: "run-1", LabelComponent: ComponentAgent,
		}},
		Status: corev1.PodStatus{
			Phase:             phase,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "agent", State: state}},
		},
	}
}

func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "some\n  detail"}}
}

func TestFailed(t *testing.T) {
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	tests := []struct {
		name string
		pods []*corev1.Pod
		cond []batchv1.JobCondition
		want []string // substrings of the answer; none for ""
	}{
		{name: "no pods yet"},
		{name: "pulling", pods: []*corev1.Pod{agentPod("p0", corev1.PodPending, waiting("ContainerCreating"))}},
		{name: "running", pods: []*corev1.Pod{agentPod("p0", corev1.PodRunning, running)}},
		{
			name: "image pull backoff",
			pods: []*corev1.Pod{
				agentPod("p0", corev1.PodRunning, running),
				agentPod("p1", corev1.PodPending, waiting("ImagePullBackOff")),
			},
			want: []string{"pod p1", "ImagePullBackOff: some detail"},
		},
		{
			name: "agent crashed",
			pods: []*corev1.Pod{agentPod("p0", corev1.PodFailed, corev1.ContainerState{
				Terminated: &corev1.ContainerStateTerminated{ExitCode: 2, Reason: "Error"},
			})},
			want: []string{"pod p0", "exited 2", "Error"},
		},
		{
			name: "evicted",
			pods: []*corev1.Pod{func() *corev1.Pod {
				p := agentPod("p0", corev1.PodFailed, corev1.ContainerState{})
				p.Status.Reason = "Evicted"
				return p
			}()},
			want: []string{"pod p0 failed: Evicted"},
		},
		{
			name: "past its deadline, and a pod",
			cond: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded", Message: "Job was active longer than specified deadline"}},
			pods: []*corev1.Pod{agentPod("p0", corev1.PodPending, waiting("ErrImagePull"))},
			want: []string{"failed: DeadlineExceeded", "(and 1 more)"},
		},
		{
			name: "someone else's pod",
			pods: []*corev1.Pod{func() *corev1.Pod {
				p := agentPod("other", corev1.PodPending, waiting("ImagePullBackOff"))
				p.Labels[LabelInstance] = "run-2"
				return p
			}()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewClientset()
			ctx := context.Background()
			launched, err := NewWithClient(c, Options{Namespace: ns}).Start(ctx, launch(2))
			if err != nil {
				t.Fatal(err)
			}
			run := launched.(FailureReporter)
			for _, p := range tt.pods {
				if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			if tt.cond != nil {
				job, err := c.BatchV1().Jobs(ns).Get(ctx, "lockbench-run-1", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				job.Status.Conditions = tt.cond
				if _, err := c.BatchV1().Jobs(ns).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := run.Failed(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(tt.want) == 0 && got != "" {
				t.Errorf("Failed = %q, want nothing", got)
			}
			if len(tt.want) > 0 && got == "" {
				t.Errorf("Failed = nothing, want %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("Failed = %q, want it to say %q", got, w)
				}
			}
			if strings.Contains(got, "\n") {
				t.Errorf("Failed = %q: more than one line", got)
			}

			if err := launched.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			if got, err := run.Failed(ctx); err != nil || !strings.Contains(got, "gone") {
				t.Errorf("Failed after Stop = %q, %v, want the job gone", got, err)
			}
		})
	}
}

func TestFailedAPIError(t *testing.T) {
	c := fake.NewClientset()
	ctx := context.Background()
	launched, err := NewWithClient(c, Options{Namespace: ns}).Start(ctx, launch(1))
	if err != nil {
		t.Fatal(err)
	}
	c.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("pods"), "", errors.New("rbac says no"))
	})
	got, err := launched.(FailureReporter).Failed(ctx)
	if err == nil || !apierrors.IsForbidden(err) || got != "" {
		t.Errorf("Failed = %q, %v, want a Forbidden error", got, err)
	}
}
