package k8s

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/lockbench/lockbench/fleet"
)

// CleanupTimeout bounds the deletes Start makes when it gives up midway:
// they run on a context of their own, since the run's may be the one that
// ended.
const CleanupTimeout = 30 * time.Second

// Engine starts a run's agents as a Kubernetes Job; see the package
// documentation for what the controller pod needs.
type Engine struct {
	client kubernetes.Interface
	opts   Options
}

var _ fleet.Engine = (*Engine)(nil)

// New returns an engine for namespace (which overrides o.Namespace when
// not empty). It talks to the cluster it runs in when in a pod, else to
// the current context of the default kubeconfig ($KUBECONFIG or
// ~/.kube/config). Agents reach the controller only in a pod behind the
// run's Service, so a controller outside the cluster can start agents
// but they will not register; New does not forbid it, for debugging.
func New(namespace string, o Options) (*Engine, error) {
	if namespace != "" {
		o.Namespace = namespace
	}
	if o.Namespace == "" {
		return nil, errors.New("k8s engine: no namespace: give one as k8s:NAMESPACE")
	}
	cfg, err := rest.InClusterConfig()
	if errors.Is(err, rest.ErrNotInCluster) {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		cfg, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
		if clientcmd.IsEmptyConfig(err) {
			return nil, errors.New("k8s engine: not in a pod and no kubeconfig found: set KUBECONFIG or create ~/.kube/config (kubectl config)")
		}
		if err != nil {
			return nil, fmt.Errorf("k8s engine: not in a pod and no usable kubeconfig (set KUBECONFIG or run kubectl config use-context): %s", oneLine(err))
		}
	} else if err != nil {
		return nil, fmt.Errorf("k8s engine: in a pod but its service account is unusable (check the pod's automountServiceAccountToken): %s", oneLine(err))
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("k8s engine: cannot make a client for %s (check the kubeconfig's server and credentials): %s", cfg.Host, oneLine(err))
	}
	return NewWithClient(c, o), nil
}

// oneLine is err's message on one line: New's errors are read on a
// terminal, and client-go's may span several.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

// NewWithClient returns an engine using c, such as a fake clientset in
// tests; o.Namespace must be set.
func NewWithClient(c kubernetes.Interface, o Options) *Engine {
	return &Engine{client: c, opts: o}
}

// Name is "k8s", the engine's name in an --agents spec.
func (e *Engine) Name() string { return "k8s" }

// Start creates the run's Secret, Service and Job, in that order so that
// no pod starts before the Secret and Service it needs exist. If a create
// fails or ctx ends midway, it deletes what it created (never an object it
// found already there) and returns the cause.
func (e *Engine) Start(ctx context.Context, l fleet.Launch) (fleet.Launched, error) {
	if err := validate(e.opts, l); err != nil {
		return nil, err
	}
	secret, service, job := Objects(e.opts, l)
	r := &Run{client: e.client, namespace: secret.Namespace, name: secret.Name, runID: l.RunID}
	ns := r.namespace

	fail := func(step string, cause error) (fleet.Launched, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
		defer cancel()
		err := fmt.Errorf("k8s engine: %s %s/%s: %w", step, ns, r.name, cause)
		if cerr := r.Stop(cctx); cerr != nil {
			err = fmt.Errorf("%w (and cleaning up: %v)", err, cerr)
		}
		return nil, err
	}

	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("k8s engine: not started: %w", err)
	}
	if _, err := e.client.CoreV1().Secrets(ns).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		r.secret = maybeCreated(err)
		return fail("creating secret", err)
	}
	r.secret = true
	if err := ctx.Err(); err != nil {
		return fail("interrupted after secret", err)
	}
	if _, err := e.client.CoreV1().Services(ns).Create(ctx, service, metav1.CreateOptions{}); err != nil {
		r.service = maybeCreated(err)
		return fail("creating service", err)
	}
	r.service = true
	if err := ctx.Err(); err != nil {
		return fail("interrupted after service", err)
	}
	if _, err := e.client.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		r.job = maybeCreated(err)
		return fail("creating job", err)
	}
	r.job = true
	if err := ctx.Err(); err != nil {
		return fail("interrupted after job", err)
	}
	return r, nil
}

// maybeCreated says whether a create that returned err may still have
// made the object: the outcome of a request cut off by its context, a
// timeout or a broken connection is unknown, so Start deletes the object
// to be safe (NotFound is fine). Any other answer from the API server
// (AlreadyExists above all: someone else's object) means it did not.
func maybeCreated(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) {
		return true
	}
	var status apierrors.APIStatus
	return !errors.As(err, &status)
}

// FailureReporter is implemented by what Start returns: the controller,
// waiting for agents to register, can ask whether they never will.
type FailureReporter interface {
	// Failed says why the run's agents failed or cannot start (an image
	// that cannot be pulled, a pod that failed, the Job failed or past its
	// deadline), or "" if nothing is wrong yet.
	Failed(ctx context.Context) (string, error)
}

// Run is the Secret, Service and Job Start created for a run.
type Run struct {
	client    kubernetes.Interface
	namespace string
	name      string
	runID     string

	mu                   sync.Mutex
	secret, service, job bool // created and not yet deleted
}

var (
	_ fleet.Launched  = (*Run)(nil)
	_ FailureReporter = (*Run)(nil)
)

// Stop deletes the Job (with background propagation, so the garbage
// collector removes its pods too), the Service and the Secret. An object
// already gone counts as deleted; one Stop that failed may be retried,
// and a Stop after a successful one does nothing.
func (r *Run) Stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	var errs []error
	del := func(made *bool, what string, f func() error) {
		if !*made {
			return
		}
		if err := f(); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s %s/%s: %w", what, r.namespace, r.name, err))
			return
		}
		*made = false
	}
	// The Job first: its pods are the ones still using the others.
	del(&r.job, "job", func() error {
		bg := metav1.DeletePropagationBackground
		return r.client.BatchV1().Jobs(r.namespace).Delete(ctx, r.name, metav1.DeleteOptions{PropagationPolicy: &bg})
	})
	del(&r.service, "service", func() error {
		return r.client.CoreV1().Services(r.namespace).Delete(ctx, r.name, metav1.DeleteOptions{})
	})
	del(&r.secret, "secret", func() error {
		return r.client.CoreV1().Secrets(r.namespace).Delete(ctx, r.name, metav1.DeleteOptions{})
	})
	if len(errs) > 0 {
		return fmt.Errorf("k8s engine: %w", errors.Join(errs...))
	}
	return nil
}
