package k8s

import (
	"context"
	"fmt"
	"sort"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// fatalWaiting are the reasons a container waits for that will not pass
// by themselves within a run: the image is wrong or unreachable, or the
// container cannot be made. Transient ones (ContainerCreating, a pod
// still Pending for a node) are not failures: the controller's own
// registration timeout covers them.
var fatalWaiting = map[string]bool{
	"ErrImagePull":               true,
	"ImagePullBackOff":           true,
	"InvalidImageName":           true,
	"ErrImageNeverPull":          true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
	"CrashLoopBackOff":           true,
}

// Failed implements FailureReporter: it reads the Job's conditions and
// its pods' states, and says why the agents failed or cannot start, or
// "" if nothing is wrong yet. An error is only about asking the API
// server.
func (r *Run) Failed(ctx context.Context) (string, error) {
	job, err := r.client.BatchV1().Jobs(r.namespace).Get(ctx, r.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return fmt.Sprintf("job %s/%s is gone (deleted, or removed after it finished)", r.namespace, r.name), nil
	}
	if err != nil {
		return "", fmt.Errorf("k8s engine: reading job %s/%s: %w", r.namespace, r.name, err)
	}
	var why []string
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobFailed || c.Type == batchv1.JobFailureTarget) && c.Status == corev1.ConditionTrue {
			why = append(why, fmt.Sprintf("job %s failed: %s", r.name, reasonMessage(c.Reason, c.Message)))
			break
		}
	}

	pods, err := r.client.CoreV1().Pods(r.namespace).List(ctx, metav1.ListOptions{LabelSelector: selector(r.runID)})
	if err != nil {
		return "", fmt.Errorf("k8s engine: listing pods of job %s/%s: %w", r.namespace, r.name, err)
	}
	items := pods.Items
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	for _, p := range items {
		if s := podFailure(&p); s != "" {
			why = append(why, s)
		}
	}
	switch len(why) {
	case 0:
		return "", nil
	case 1:
		return why[0], nil
	default:
		// The first says what went wrong; the rest are mostly the same.
		return fmt.Sprintf("%s (and %d more)", why[0], len(why)-1), nil
	}
}

// podFailure says why p failed or cannot start, or "".
func podFailure(p *corev1.Pod) string {
	statuses := append(append([]corev1.ContainerStatus(nil), p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
	for _, cs := range statuses {
		if w := cs.State.Waiting; w != nil && fatalWaiting[w.Reason] {
			return fmt.Sprintf("pod %s: container %s: %s", p.Name, cs.Name, reasonMessage(w.Reason, w.Message))
		}
		if t := cs.State.Terminated; t != nil && t.ExitCode != 0 {
			return fmt.Sprintf("pod %s: container %s exited %d: %s", p.Name, cs.Name, t.ExitCode, reasonMessage(t.Reason, t.Message))
		}
	}
	if p.Status.Phase == corev1.PodFailed {
		return fmt.Sprintf("pod %s failed: %s", p.Name, reasonMessage(p.Status.Reason, p.Status.Message))
	}
	return ""
}

// reasonMessage joins a Kubernetes reason and message, either of which may
// be empty, on one line.
func reasonMessage(reason, message string) string {
	message = strings.Join(strings.Fields(message), " ")
	switch {
	case reason == "" && message == "":
		return "no reason given"
	case message == "":
		return reason
	case reason == "":
		return message
	}
	return reason + ": " + message
}
