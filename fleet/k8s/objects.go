// Package k8s is the Kubernetes agent engine, k8s:NAMESPACE: it runs a
// run's agents as one Indexed Job in NAMESPACE, one pod per agent index,
// and gives them a Service in front of the controller to dial and a
// Secret holding the run's token.
//
// The controller must itself run in a pod of that namespace carrying the
// labels app.kubernetes.io/name=lockbench and
// app.kubernetes.io/component=controller, and listen on the run's port:
// the Service selects the controller by those labels, so agents reach it
// at <service>.<namespace>.svc:<port> wherever they are scheduled. Only
// one controller should carry those labels in a namespace at a time, or
// the Service would spread agents over several controllers.
package k8s

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/lockbench/lockbench/fleet"
)

// Defaults for the Options left zero.
const (
	// DefaultImage is the agent image when Options.Image is empty.
	DefaultImage = "lockbench:latest"
	// DefaultActiveDeadline bounds a Job whose Options.ActiveDeadline is
	// zero: longer than any run, short enough not to leave agents of a
	// lost controller running for long.
	DefaultActiveDeadline = time.Hour
	// DefaultTTLAfterFinished keeps a finished Job's pods for their logs.
	DefaultTTLAfterFinished = 10 * time.Minute
)

// Label keys and values the engine puts on its objects (the recommended
// app.kubernetes.io labels), and the ones the controller pod must carry.
const (
	// LabelName is AppName on every object, and on the controller pod.
	LabelName = "app.kubernetes.io/name"
	// LabelInstance is the run's Instance on the engine's objects, so
	// that concurrent runs' objects and pods are told apart.
	LabelInstance = "app.kubernetes.io/instance"
	// LabelComponent is ComponentAgent on the engine's objects and
	// ComponentController on the controller pod.
	LabelComponent = "app.kubernetes.io/component"

	// AppName is the value of LabelName.
	AppName = "lockbench"
	// ComponentAgent marks the agents' objects and pods.
	ComponentAgent = "agent"
	// ComponentController marks the controller pod the Service selects.
	ComponentController = "controller"
)

// Environment variables the agent container gets. Kubernetes itself sets
// JOB_COMPLETION_INDEX in every pod of an Indexed Job; the agent takes its
// index from there, so the pod template is the same for every index.
const (
	// EnvController is the controller's host:port (ControllerAddress).
	EnvController = "LOCKBENCH_CONTROLLER"
	// EnvToken is the run's token, from the Secret.
	EnvToken = "LOCKBENCH_AGENT_TOKEN"
	// EnvName is the agent's pod name, for the controller's messages.
	EnvName = "LOCKBENCH_AGENT_NAME"
	// EnvIndex is the agent's index, 0..Agents-1, set by Kubernetes.
	EnvIndex = "JOB_COMPLETION_INDEX"
)

// TokenKey is the key of the token in the run's Secret.
const TokenKey = "token"

// TokenPlaceholder is the token WriteManifest puts in the Secret when the
// Launch has none: the user replaces it with the token the controller is
// given, before applying the manifest.
const TokenPlaceholder = "REPLACE-WITH-THE-CONTROLLER-TOKEN"

// Options configures the agents' Kubernetes objects.
type Options struct {
	// Namespace holds every object of the run, and the controller pod.
	// Required.
	Namespace string
	// Image holds the bench binary; DefaultImage if empty.
	Image string
	// ImagePullPolicy is the container's pull policy; Kubernetes' default
	// (Always for a :latest tag) if empty. Set IfNotPresent for an image
	// loaded into the nodes (kind load, minikube image load) that no
	// registry serves.
	ImagePullPolicy corev1.PullPolicy
	// Command runs an agent; []string{"bench", "agent"} if empty. The
	// Launch's Args follow it.
	Command []string
	// Port is the controller's port, both the Service's port and the
	// controller pod's port it forwards to; the Launch's Port if zero.
	Port int
	// ActiveDeadline bounds the Job's life, so agents a lost controller
	// left behind do not run forever; DefaultActiveDeadline if zero.
	ActiveDeadline time.Duration
	// TTLAfterFinished is how long a finished Job stays for inspection
	// (kubectl logs) when nothing stopped it; DefaultTTLAfterFinished if
	// zero.
	TTLAfterFinished time.Duration
	// Resources are the agent container's requests and limits. Requests
	// matter for a benchmark: without them agents may be packed onto one
	// node and starve each other.
	Resources corev1.ResourceRequirements
}

// withDefaults returns o with every zero field given its default and the
// port taken from l.
func (o Options) withDefaults(l fleet.Launch) Options {
	if o.Image == "" {
		o.Image = DefaultImage
	}
	if len(o.Command) == 0 {
		o.Command = []string{"bench", "agent"}
	}
	if o.Port == 0 {
		o.Port = l.Port
	}
	if o.ActiveDeadline <= 0 {
		o.ActiveDeadline = DefaultActiveDeadline
	}
	if o.TTLAfterFinished <= 0 {
		o.TTLAfterFinished = DefaultTTLAfterFinished
	}
	return o
}

// validate says what is wrong with o and l for a run, in one line.
func validate(o Options, l fleet.Launch) error {
	o = o.withDefaults(l)
	var errs []error
	if o.Namespace == "" {
		errs = append(errs, errors.New("no namespace (k8s:NAMESPACE)"))
	} else if msgs := validation.IsDNS1123Label(o.Namespace); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("namespace %q: %s", o.Namespace, strings.Join(msgs, "; ")))
	}
	if l.Agents < 1 {
		errs = append(errs, fmt.Errorf("%d agents: need at least 1", l.Agents))
	}
	if o.Port < 1 || o.Port > 65535 {
		errs = append(errs, fmt.Errorf("controller port %d: need 1..65535", o.Port))
	}
	if l.RunID == "" {
		errs = append(errs, errors.New("no run id"))
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("k8s engine: %w", errors.Join(errs...))
}

// maxInstance is the longest instance part of a name: the name is
// "lockbench-" + instance and a DNS-1123 label has at most 63 characters.
const maxInstance = validation.DNS1123LabelMaxLength - len(AppName) - 1

// Instance turns a run id into a DNS-1123 label of at most 53 characters,
// used in object names and as the app.kubernetes.io/instance label (a
// DNS-1123 label is also a valid label value). Lowercase letters, digits
// and single dashes pass; anything else becomes a dash. A run id that had
// to change, or be cut, ends in 8 hex digits of its hash, so two run ids
// that sanitise alike still get different names.
func Instance(runID string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(runID) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	s := strings.Trim(b.String(), "-")
	if s == runID && s != "" && len(s) <= maxInstance {
		return s
	}
	sum := sha256.Sum256([]byte(runID))
	suffix := hex.EncodeToString(sum[:4])
	if len(s) > maxInstance-len(suffix)-1 {
		s = strings.TrimRight(s[:maxInstance-len(suffix)-1], "-")
	}
	if s == "" {
		return suffix
	}
	return s + "-" + suffix
}

// Name is the name of every object of a run: "lockbench-" + Instance.
func Name(runID string) string {
	return AppName + "-" + Instance(runID)
}

// ControllerAddress is the host:port agents dial: the run's Service.
func ControllerAddress(o Options, l fleet.Launch) string {
	o = o.withDefaults(l)
	return fmt.Sprintf("%s.%s.svc:%d", Name(l.RunID), o.Namespace, o.Port)
}

// Objects builds a run's Secret, Service and Job; Start creates them and
// WriteManifest prints them, so both make the same objects. It does not
// check its arguments: Start and WriteManifest do.
func Objects(o Options, l fleet.Launch) (*corev1.Secret, *corev1.Service, *batchv1.Job) {
	o = o.withDefaults(l)
	name := Name(l.RunID)
	labels := func() map[string]string {
		return map[string]string{
			LabelName:      AppName,
			LabelInstance:  Instance(l.RunID),
			LabelComponent: ComponentAgent,
		}
	}
	meta := func() metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Labels: labels()}
	}

	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: meta(),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{TokenKey: []byte(l.Token)},
	}

	service := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: meta(),
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP,
			// The controller, not the agents: agents dial in.
			Selector: map[string]string{
				LabelName:      AppName,
				LabelComponent: ComponentController,
			},
			Ports: []corev1.ServicePort{{
				Name:       "agents",
				Protocol:   corev1.ProtocolTCP,
				Port:       int32(o.Port),
				TargetPort: intstr.FromInt32(int32(o.Port)),
			}},
		},
	}

	command := append(append([]string(nil), o.Command...), l.Args...)
	agents := int32(l.Agents)
	job := &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: meta(),
		Spec: batchv1.JobSpec{
			// Indexed: each pod gets its agent index in JOB_COMPLETION_INDEX.
			CompletionMode: ptrTo(batchv1.IndexedCompletion),
			Completions:    ptrTo(agents),
			Parallelism:    ptrTo(agents),
			// A crashed agent fails the run; a retried one would rejoin a
			// run whose barrier has passed.
			BackoffLimit:            ptrTo(int32(0)),
			ActiveDeadlineSeconds:   ptrTo(max(int64(o.ActiveDeadline/time.Second), 1)),
			TTLSecondsAfterFinished: ptrTo(int32(max(o.TTLAfterFinished/time.Second, 1))),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels()},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					// Agents never talk to the API server.
					AutomountServiceAccountToken: ptrTo(false),
					Containers: []corev1.Container{{
						Name:            "agent",
						Image:           o.Image,
						ImagePullPolicy: o.ImagePullPolicy,
						Command:         command,
						Resources:       o.Resources,
						Env: []corev1.EnvVar{
							{Name: EnvController, Value: fmt.Sprintf("%s.%s.svc:%d", name, o.Namespace, o.Port)},
							// From the Secret, so the token is in no pod spec.
							{Name: EnvToken, ValueFrom: &corev1.EnvVarSource{
								SecretKeyRef: &corev1.SecretKeySelector{
									LocalObjectReference: corev1.LocalObjectReference{Name: name},
									Key:                  TokenKey,
								},
							}},
							{Name: EnvName, ValueFrom: &corev1.EnvVarSource{
								FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"},
							}},
						},
					}},
				},
			},
		},
	}
	return secret, service, job
}

// selector is the label selector of a run's objects and agent pods.
func selector(runID string) string {
	return LabelName + "=" + AppName + "," + LabelInstance + "=" + Instance(runID) + "," + LabelComponent + "=" + ComponentAgent
}

func ptrTo[T any](v T) *T { return &v }
