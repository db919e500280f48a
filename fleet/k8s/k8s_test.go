package k8s

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"

	"github.com/lockbench/lockbench/fleet"
)

const ns = "bench"

func launch(agents int) fleet.Launch {
	return fleet.Launch{Agents: agents, Port: 7070, Token: "s3cret", RunID: "run-1", Args: []string{"-test.flag"}}
}

// left lists the names of the secrets, services and jobs in ns.
func left(t *testing.T, c *fake.Clientset) []string {
	t.Helper()
	ctx := context.Background()
	var names []string
	secrets, err := c.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range secrets.Items {
		names = append(names, "secret/"+o.Name)
	}
	services, err := c.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range services.Items {
		names = append(names, "service/"+o.Name)
	}
	jobs, err := c.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range jobs.Items {
		names = append(names, "job/"+o.Name)
	}
	return names
}

func env(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func TestStartCreates(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		launch   fleet.Launch
		port     int32
		image    string
		command  []string
		deadline int64
	}{
		{
			name: "defaults", opts: Options{Namespace: ns}, launch: launch(3),
			port: 7070, image: DefaultImage, command: []string{"bench", "agent", "-test.flag"}, deadline: 3600,
		},
		{
			name: "one agent, options set",
			opts: Options{
				Namespace: ns, Image: "reg.example/lockbench:v2", Command: []string{"/bench", "agent", "-v"},
				Port: 9000, ActiveDeadline: 90 * time.Second,
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("500m")}},
			},
			launch: fleet.Launch{Agents: 1, Port: 7070, Token: "t", RunID: "run-1"},
			port:   9000, image: "reg.example/lockbench:v2", command: []string{"/bench", "agent", "-v"}, deadline: 90,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewClientset()
			e := NewWithClient(c, tt.opts)
			if e.Name() != "k8s" {
				t.Errorf("Name() = %q", e.Name())
			}
			ctx := context.Background()
			run, err := e.Start(ctx, tt.launch)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { run.Stop(context.Background()) })
			name := "lockbench-run-1"
			wantLabels := map[string]string{LabelName: AppName, LabelInstance: "run-1", LabelComponent: ComponentAgent}

			secret, err := c.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := string(secret.Data[TokenKey]); got != tt.launch.Token {
				t.Errorf("secret token = %q, want %q", got, tt.launch.Token)
			}

			svc, err := c.CoreV1().Services(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if svc.Spec.Type != corev1.ServiceTypeClusterIP {
				t.Errorf("service type = %s", svc.Spec.Type)
			}
			wantSel := map[string]string{LabelName: AppName, LabelComponent: ComponentController}
			if !reflect.DeepEqual(svc.Spec.Selector, wantSel) {
				t.Errorf("service selector = %v, want %v", svc.Spec.Selector, wantSel)
			}
			if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != tt.port || svc.Spec.Ports[0].TargetPort.IntVal != tt.port {
				t.Errorf("service ports = %+v, want %d -> %d", svc.Spec.Ports, tt.port, tt.port)
			}

			job, err := c.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := job.Spec
			n := int32(tt.launch.Agents)
			if s.CompletionMode == nil || *s.CompletionMode != batchv1.IndexedCompletion {
				t.Errorf("completionMode = %v, want Indexed", s.CompletionMode)
			}
			if s.Completions == nil || *s.Completions != n || s.Parallelism == nil || *s.Parallelism != n {
				t.Errorf("completions, parallelism = %v, %v, want %d", s.Completions, s.Parallelism, n)
			}
			if s.BackoffLimit == nil || *s.BackoffLimit != 0 {
				t.Errorf("backoffLimit = %v, want 0", s.BackoffLimit)
			}
			if s.ActiveDeadlineSeconds == nil || *s.ActiveDeadlineSeconds != tt.deadline {
				t.Errorf("activeDeadlineSeconds = %v, want %d", s.ActiveDeadlineSeconds, tt.deadline)
			}
			if s.TTLSecondsAfterFinished == nil || *s.TTLSecondsAfterFinished != 600 {
				t.Errorf("ttlSecondsAfterFinished = %v, want 600", s.TTLSecondsAfterFinished)
			}
			if !reflect.DeepEqual(job.Labels, wantLabels) || !reflect.DeepEqual(s.Template.Labels, wantLabels) {
				t.Errorf("job labels %v, pod labels %v, want %v", job.Labels, s.Template.Labels, wantLabels)
			}
			if s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("restartPolicy = %s", s.Template.Spec.RestartPolicy)
			}
			if len(s.Template.Spec.Containers) != 1 {
				t.Fatalf("%d containers", len(s.Template.Spec.Containers))
			}
			ctr := s.Template.Spec.Containers[0]
			if ctr.Image != tt.image || !reflect.DeepEqual(ctr.Command, tt.command) {
				t.Errorf("image %q command %q, want %q %q", ctr.Image, ctr.Command, tt.image, tt.command)
			}
			if !reflect.DeepEqual(ctr.Resources, tt.opts.Resources) {
				t.Errorf("resources = %+v, want %+v", ctr.Resources, tt.opts.Resources)
			}
			wantAddr := name + ".bench.svc:" + map[int32]string{7070: "7070", 9000: "9000"}[tt.port]
			if v := env(ctr, EnvController); v == nil || v.Value != wantAddr || v.ValueFrom != nil {
				t.Errorf("%s = %+v, want %q", EnvController, v, wantAddr)
			}
			if got := ControllerAddress(tt.opts, tt.launch); got != wantAddr {
				t.Errorf("ControllerAddress = %q, want %q", got, wantAddr)
			}
			v := env(ctr, EnvToken)
			if v == nil || v.Value != "" || v.ValueFrom == nil || v.ValueFrom.SecretKeyRef == nil ||
				v.ValueFrom.SecretKeyRef.Name != name || v.ValueFrom.SecretKeyRef.Key != TokenKey {
				t.Errorf("%s = %+v, want secretKeyRef %s/%s", EnvToken, v, name, TokenKey)
			}
			for _, e := range ctr.Env {
				if strings.Contains(e.Value, tt.launch.Token) {
					t.Errorf("token in the pod spec, in %s", e.Name)
				}
			}
			v = env(ctr, EnvName)
			if v == nil || v.ValueFrom == nil || v.ValueFrom.FieldRef == nil || v.ValueFrom.FieldRef.FieldPath != "metadata.name" {
				t.Errorf("%s = %+v, want fieldRef metadata.name", EnvName, v)
			}
		})
	}
}

func TestStartRejects(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		launch fleet.Launch
		want   string
	}{
		{"no namespace", Options{}, launch(2), "namespace"},
		{"bad namespace", Options{Namespace: "Bench_NS"}, launch(2), "namespace"},
		{"no agents", Options{Namespace: ns}, launch(0), "agents"},
		{"no port", Options{Namespace: ns}, fleet.Launch{Agents: 1, RunID: "r"}, "port"},
		{"no run id", Options{Namespace: ns}, fleet.Launch{Agents: 1, Port: 1}, "run id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewClientset()
			_, err := NewWithClient(c, tt.opts).Start(context.Background(), tt.launch)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start: %v, want an error about %s", err, tt.want)
			}
			if len(c.Actions()) != 0 {
				t.Errorf("Start asked the API server %v before rejecting", c.Actions())
			}
			if err := WriteManifest(&bytes.Buffer{}, tt.opts, tt.launch); err == nil {
				t.Error("WriteManifest took it")
			}
		})
	}
}

func TestStopDeletesAll(t *testing.T) {
	c := fake.NewClientset()
	var propagation []metav1.DeletionPropagation
	c.PrependReactor("delete", "jobs", func(a k8stesting.Action) (bool, runtime.Object, error) {
		opts := a.(k8stesting.DeleteActionImpl).DeleteOptions
		if opts.PropagationPolicy == nil {
			propagation = append(propagation, "")
		} else {
			propagation = append(propagation, *opts.PropagationPolicy)
		}
		return false, nil, nil
	})
	run, err := NewWithClient(c, Options{Namespace: ns}).Start(context.Background(), launch(4))
	if err != nil {
		t.Fatal(err)
	}
	if got := left(t, c); len(got) != 3 {
		t.Fatalf("after Start: %v, want a secret, a service and a job", got)
	}
	if err := run.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := left(t, c); len(got) != 0 {
		t.Errorf("after Stop: %v left", got)
	}
	if !reflect.DeepEqual(propagation, []metav1.DeletionPropagation{metav1.DeletePropagationBackground}) {
		t.Errorf("job deleted with propagation %q, want one Background", propagation)
	}
	n := len(c.Actions())
	if err := run.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if len(c.Actions()) != n {
		t.Errorf("second Stop asked the API server %v", c.Actions()[n:])
	}
}

func TestStopToleratesGoneAndRetries(t *testing.T) {
	c := fake.NewClientset()
	run, err := NewWithClient(c, Options{Namespace: ns}).Start(context.Background(), launch(2))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Someone deleted the service already: NotFound is fine.
	if err := c.CoreV1().Services(ns).Delete(ctx, "lockbench-run-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The secret's first delete fails: Stop says so, and the next Stop
	// deletes it.
	failures := 1
	c.PrependReactor("delete", "secrets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if failures > 0 {
			failures--
			return true, nil, apierrors.NewInternalError(errors.New("etcd is down"))
		}
		return false, nil, nil
	})
	if err := run.Stop(ctx); err == nil || !strings.Contains(err.Error(), "etcd is down") {
		t.Errorf("first Stop: %v, want the secret's delete error", err)
	}
	if got := left(t, c); !reflect.DeepEqual(got, []string{"secret/lockbench-run-1"}) {
		t.Errorf("after a failed Stop: %v, want the secret only", got)
	}
	if err := run.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if got := left(t, c); len(got) != 0 {
		t.Errorf("after the second Stop: %v left", got)
	}
}

func TestStartCleansUp(t *testing.T) {
	boom := apierrors.NewInternalError(errors.New("boom"))
	tests := []struct {
		name     string
		verb     string
		resource string
		// react makes the create of resource go wrong; cancel cancels
		// Start's context.
		react  func(c *fake.Clientset, cancel context.CancelFunc) k8stesting.ReactionFunc
		cause  error
		exists []runtime.Object // in the cluster before Start
		left   []string
	}{
		{
			name: "secret create fails", resource: "secrets", cause: boom,
			react: failWith(boom),
		},
		{
			name: "service create fails", resource: "services", cause: boom,
			react: failWith(boom),
		},
		{
			name: "job create fails", resource: "jobs", cause: boom,
			react: failWith(boom),
		},
		{
			name: "cancelled after secret", resource: "secrets", cause: context.Canceled,
			react: cancelAfter,
		},
		{
			name: "cancelled after service", resource: "services", cause: context.Canceled,
			react: cancelAfter,
		},
		{
			name: "cancelled after job", resource: "jobs", cause: context.Canceled,
			react: cancelAfter,
		},
		{
			// The request was cut off after the server made the job: its
			// outcome is unknown to Start, which deletes it anyway.
			name: "job made but its create cancelled", resource: "jobs", cause: context.Canceled,
			react: func(c *fake.Clientset, cancel context.CancelFunc) k8stesting.ReactionFunc {
				return func(a k8stesting.Action) (bool, runtime.Object, error) {
					ca := a.(k8stesting.CreateAction)
					if err := c.Tracker().Create(ca.GetResource(), ca.GetObject(), ca.GetNamespace()); err != nil {
						return true, nil, err
					}
					cancel()
					return true, nil, context.Canceled
				}
			},
		},
		{
			// Another run's service of the same name is not Start's to
			// delete.
			name: "service already exists", resource: "none",
			react: func(*fake.Clientset, context.CancelFunc) k8stesting.ReactionFunc {
				return func(k8stesting.Action) (bool, runtime.Object, error) { return false, nil, nil }
			},
			exists: []runtime.Object{&corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lockbench-run-1", Namespace: ns}}},
			left:   []string{"service/lockbench-run-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewClientset(tt.exists...)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c.PrependReactor("create", tt.resource, tt.react(c, cancel))
			run, err := NewWithClient(c, Options{Namespace: ns}).Start(ctx, launch(3))
			if err == nil {
				run.Stop(context.Background())
				t.Fatal("Start succeeded")
			}
			if run != nil {
				t.Errorf("Start returned %v with its error", run)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("Start: %v, want it to wrap %v", err, tt.cause)
			}
			if tt.exists != nil && !apierrors.IsAlreadyExists(err) {
				t.Errorf("Start: %v, want AlreadyExists", err)
			}
			if got := left(t, c); !reflect.DeepEqual(got, tt.left) {
				t.Errorf("left behind %v, want %v", got, tt.left)
			}
		})
	}
}

func failWith(err error) func(*fake.Clientset, context.CancelFunc) k8stesting.ReactionFunc {
	return func(*fake.Clientset, context.CancelFunc) k8stesting.ReactionFunc {
		return func(k8stesting.Action) (bool, runtime.Object, error) { return true, nil, err }
	}
}

// cancelAfter lets the create through and cancels the context, as an
// interrupt arriving while the request was in flight would.
func cancelAfter(_ *fake.Clientset, cancel context.CancelFunc) k8stesting.ReactionFunc {
	return func(k8stesting.Action) (bool, runtime.Object, error) {
		cancel()
		return false, nil, nil
	}
}

func TestWriteManifest(t *testing.T) {
	tests := []struct {
		name      string
		launch    fleet.Launch
		wantToken string
	}{
		{"with token", launch(5), "s3cret"},
		{"placeholder", fleet.Launch{Agents: 2, Port: 7070, RunID: "Nightly_Run"}, TokenPlaceholder},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Namespace: ns, Image: "lockbench:v3"}
			var buf bytes.Buffer
			if err := WriteManifest(&buf, opts, tt.launch); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{fmt.Sprintf("--agents wait:%d --agent-listen :7070", tt.launch.Agents), LabelComponent + ": " + ComponentController} {
				if !strings.Contains(strings.SplitN(buf.String(), "---", 2)[0], want) {
					t.Errorf("header says nothing of %q:\n%s", want, buf.String())
				}
			}
			header := strings.SplitN(buf.String(), "---", 2)[0]
			if placeholder := strings.Contains(header, "Replace "+TokenPlaceholder); placeholder != (tt.launch.Token == "") {
				t.Errorf("header asks to replace the placeholder: %v, with token %q", placeholder, tt.launch.Token)
			}
			docs := strings.Split(buf.String(), "\n---\n")[1:]
			if len(docs) != 3 {
				t.Fatalf("%d documents, want 3:\n%s", len(docs), buf.String())
			}
			wantSecret, wantService, wantJob := Objects(opts, tt.launch)
			decode := scheme.Codecs.UniversalDeserializer()
			var kinds []string
			for _, doc := range docs {
				obj, gvk, err := decode.Decode([]byte(doc), nil, nil)
				if err != nil {
					t.Fatalf("decoding %q: %v", doc, err)
				}
				kinds = append(kinds, gvk.Kind)
				switch o := obj.(type) {
				case *corev1.Secret:
					if o.StringData[TokenKey] != tt.wantToken {
						t.Errorf("secret token %q, want %q", o.StringData[TokenKey], tt.wantToken)
					}
					if !reflect.DeepEqual(o.ObjectMeta, wantSecret.ObjectMeta) {
						t.Errorf("secret metadata %+v, want %+v", o.ObjectMeta, wantSecret.ObjectMeta)
					}
				case *corev1.Service:
					if !reflect.DeepEqual(o.ObjectMeta, wantService.ObjectMeta) || !reflect.DeepEqual(o.Spec, wantService.Spec) {
						t.Errorf("service %+v, want %+v", o, wantService)
					}
				case *batchv1.Job:
					if o.GroupVersionKind() != (schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}) {
						t.Errorf("job kind %v", o.GroupVersionKind())
					}
					if !reflect.DeepEqual(o.ObjectMeta, wantJob.ObjectMeta) {
						t.Errorf("job metadata %+v, want %+v", o.ObjectMeta, wantJob.ObjectMeta)
					}
					if *o.Spec.CompletionMode != batchv1.IndexedCompletion || *o.Spec.Completions != int32(tt.launch.Agents) ||
						*o.Spec.Parallelism != int32(tt.launch.Agents) || *o.Spec.BackoffLimit != 0 {
						t.Errorf("job spec %+v", o.Spec)
					}
					if !reflect.DeepEqual(o.Spec, wantJob.Spec) {
						t.Errorf("job spec %+v, want %+v", o.Spec, wantJob.Spec)
					}
				default:
					t.Errorf("unexpected %T", obj)
				}
			}
			if !reflect.DeepEqual(kinds, []string{"Secret", "Service", "Job"}) {
				t.Errorf("kinds %v, want Secret, Service, Job", kinds)
			}
		})
	}
}

func TestNames(t *testing.T) {
	tests := []struct {
		runID string
		want  string // "" if only validity is checked
	}{
		{"run-1", "lockbench-run-1"},
		{"20261202t183451", "lockbench-20261202t183451"},
		{"Nightly_Run.2026", ""},
		{"UPPER_CASE__and  spaces!!", ""},
		{strings.Repeat("a", 80), ""},
		{strings.Repeat("Ab_", 27), ""},
		{"---", ""},
		{"", ""},
		{"é☃", ""},
		{strings.Repeat("a", 52) + "-b", ""},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		name := Name(tt.runID)
		if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
			t.Errorf("Name(%q) = %q: %v", tt.runID, name, msgs)
		}
		if msgs := validation.IsValidLabelValue(Instance(tt.runID)); len(msgs) > 0 {
			t.Errorf("Instance(%q) = %q: %v", tt.runID, Instance(tt.runID), msgs)
		}
		if tt.want != "" && name != tt.want {
			t.Errorf("Name(%q) = %q, want %q", tt.runID, name, tt.want)
		}
		if other, ok := seen[name]; ok {
			t.Errorf("Name(%q) = Name(%q) = %q", tt.runID, other, name)
		}
		seen[name] = tt.runID
	}
	// Run ids that sanitise alike get different names.
	if a, b := Name("run_1"), Name("run.1"); a == b {
		t.Errorf("run_1 and run.1 both named %q", a)
	}
	if a, b := Name(strings.Repeat("x", 80)), Name(strings.Repeat("x", 81)); a == b {
		t.Errorf("80 and 81 x's both named %q", a)
	}
}

func TestNew(t *testing.T) {
	// Never in a pod here, whatever the machine: no in-cluster config.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBERNETES_SERVICE_PORT", "")
	dir := t.TempDir()
	good := dir + "/good"
	// A kubeconfig naming a server nothing listens on: New makes a client
	// and contacts nothing.
	const kubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: u
  user: {token: "x"}
contexts:
- name: ctx
  context: {cluster: c, user: u, namespace: other}
current-context: ctx
`
	if err := os.WriteFile(good, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		kubeconfig string
		namespace  string
		opts       Options
		wantErr    string
		wantNS     string
	}{
		{name: "kubeconfig", kubeconfig: good, namespace: ns, wantNS: ns},
		{name: "namespace from options", kubeconfig: good, opts: Options{Namespace: "opt"}, wantNS: "opt"},
		{name: "argument beats options", kubeconfig: good, namespace: ns, opts: Options{Namespace: "opt"}, wantNS: ns},
		{name: "no namespace", kubeconfig: good, wantErr: "k8s:NAMESPACE"},
		{name: "no kubeconfig", kubeconfig: dir + "/missing", namespace: ns, wantErr: "KUBECONFIG"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.kubeconfig)
			e, err := New(tt.namespace, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || strings.Contains(err.Error(), "\n") {
					t.Errorf("New: %v, want one line about %s", err, tt.wantErr)
				}
				if testing.Verbose() {
					t.Log(err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.opts.Namespace != tt.wantNS || e.client == nil {
				t.Errorf("New: namespace %q client %v, want %q", e.opts.Namespace, e.client, tt.wantNS)
			}
		})
	}
}

func TestStopConcurrent(t *testing.T) {
	c := fake.NewClientset()
	run, err := NewWithClient(c, Options{Namespace: ns}).Start(context.Background(), launch(2))
	if err != nil {
		t.Fatal(err)
	}
	// The run's context ending and the controller's deferred Stop may
	// both stop it: each deletes, once, and neither sees an error.
	errs := make(chan error, 4)
	for range 4 {
		go func() { errs <- run.Stop(context.Background()) }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	deletes := 0
	for _, a := range c.Actions() {
		if a.GetVerb() == "delete" {
			deletes++
		}
	}
	if deletes != 3 {
		t.Errorf("%d deletes, want 3", deletes)
	}
	if got := left(t, c); len(got) != 0 {
		t.Errorf("left behind %v", got)
	}
}
