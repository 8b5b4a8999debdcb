package deploy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	kyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// kinds are the objects deploy/ may hold, each decoded into its typed
// struct from k8s.io/api: the API server's own types.
var kinds = map[string]func() any{
	"apps/v1 Deployment":                     func() any { return &appsv1.Deployment{} },
	"apps/v1 StatefulSet":                    func() any { return &appsv1.StatefulSet{} },
	"v1 Service":                             func() any { return &corev1.Service{} },
	"autoscaling/v2 HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"policy/v1 PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1 NetworkPolicy":     func() any { return &networkingv1.NetworkPolicy{} },
}

// decode decodes one YAML document strictly, as the API server does with
// fieldValidation=Strict: a duplicate key, an unknown field, a field in
// the wrong case or of the wrong type is an error, and so is a kind this
// package does not know.
func decode(doc []byte) (any, error) {
	js, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	var tm metav1.TypeMeta
	if err := kjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
		return nil, err
	}
	newObj, ok := kinds[tm.APIVersion+" "+tm.Kind]
	if !ok {
		return nil, fmt.Errorf("unknown kind %q %q", tm.APIVersion, tm.Kind)
	}
	obj := newObj()
	strict, err := kjson.UnmarshalStrict(js, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, err
	}
	if len(strict) > 0 {
		return nil, errors.Join(strict...)
	}
	return obj, nil
}

// manifests is every object of deploy/*.yaml, by "Kind/name".
type manifests map[string]any

func load(t *testing.T) manifests {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no manifests in deploy/")
	}
	m := manifests{}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		r := kyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(src)))
		for i := 1; ; i++ {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: document %d: %v", file, i, err)
			}
			if len(bytes.TrimSpace(regexp.MustCompile(`(?m)^\s*#.*$`).ReplaceAll(doc, nil))) == 0 {
				continue // comments only
			}
			obj, err := decode(doc)
			if err != nil {
				t.Errorf("%s: document %d: %v", file, i, err)
				continue
			}
			meta := objectMeta(obj)
			key := fmt.Sprintf("%T/%s", obj, meta.Name)
			key = key[strings.LastIndex(key, ".")+1:]
			if _, dup := m[key]; dup {
				t.Errorf("%s: %s defined twice", file, key)
			}
			m[key] = obj
		}
	}
	return m
}

func objectMeta(obj any) metav1.ObjectMeta {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.ObjectMeta
	case *appsv1.StatefulSet:
		return o.ObjectMeta
	case *corev1.Service:
		return o.ObjectMeta
	case *autoscalingv2.HorizontalPodAutoscaler:
		return o.ObjectMeta
	case *policyv1.PodDisruptionBudget:
		return o.ObjectMeta
	case *networkingv1.NetworkPolicy:
		return o.ObjectMeta
	}
	panic(fmt.Sprintf("no metadata for %T", obj))
}

func get[T any](t *testing.T, m manifests, key string) T {
	t.Helper()
	obj, ok := m[key].(T)
	if !ok {
		t.Fatalf("deploy/ has no %s (has %v)", key, keys(m))
	}
	return obj
}

func keys(m manifests) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestStrictDecoding: the validator fails on what a schema validator
// fails on, so that a passing TestManifests means something.
func TestStrictDecoding(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"unknown field", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {selectr: {a: b}}\n", `unknown field "spec.selectr"`},
		{"misspelt probe field", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  selector: {matchLabels: {a: b}}\n  template:\n    metadata: {labels: {a: b}}\n    spec:\n      containers:\n      - name: c\n        readinessProbe: {httpGet: {pathh: /readyz, port: 1}}\n", `unknown field "spec.template.spec.containers[0].readinessProbe.httpGet.pathh"`},
		{"field in the wrong case", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {Selector: {a: b}}\n", `unknown field "spec.Selector"`},
		{"duplicate key", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {type: ClusterIP, type: NodePort}\n", `key "type" already set`},
		{"wrong type", "apiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata: {name: x}\nspec: {maxUnavailable: {a: 1}}\n", "cannot unmarshal object into Go struct field PodDisruptionBudgetSpec.spec.maxUnavailable"},
		{"bad quantity", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec:\n  template:\n    spec:\n      containers: [{name: c, resources: {limits: {memory: lots}}}]\n", "quantities must match"},
		{"unknown kind", "apiVersion: v1\nkind: Servise\nmetadata: {name: x}\n", `unknown kind "v1" "Servise"`},
		{"old API version", "apiVersion: autoscaling/v2beta2\nkind: HorizontalPodAutoscaler\nmetadata: {name: x}\n", "unknown kind"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decode([]byte(tt.doc))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("decode: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// drainTimeout reads how long serve drains after SIGTERM (and its shutdown
// delay) from cmd/wasmroute/main.go: the grace period must cover both.
func drainTimeout(t *testing.T) time.Duration {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repo, "cmd", "wasmroute", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`shutdownCtx, cancel := context\.WithTimeout\(context\.Background\(\), (\d+)\*time\.Second\)`).FindSubmatch(src)
	if m == nil {
		t.Fatal("cmd/wasmroute/main.go: serve's drain timeout not found; update drainTimeout")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return time.Duration(n) * time.Second
}

// TestManifests decodes every manifest strictly, then checks what a
// reviewer would: the objects point at each other, the probes at the admin
// port, the server's flags at the volumes and the store, and every pod
// runs locked down.
func TestManifests(t *testing.T) {
	m := load(t)
	dep := get[*appsv1.Deployment](t, m, "Deployment/wasmroute")
	pod := dep.Spec.Template
	podLabels := labels.Set(pod.Labels)
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("the Deployment runs %d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]

	t.Run("names and labels are valid", func(t *testing.T) {
		for key, obj := range m {
			meta := objectMeta(obj)
			for _, msg := range validation.IsDNS1123Label(meta.Name) {
				t.Errorf("%s: name: %s", key, msg)
			}
			for k, v := range meta.Labels {
				for _, msg := range append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...) {
					t.Errorf("%s: label %s=%s: %s", key, k, v, msg)
				}
			}
		}
		for _, cp := range c.Ports {
			for _, msg := range validation.IsValidPortName(cp.Name) {
				t.Errorf("container port %q: %s", cp.Name, msg)
			}
		}
	})

	t.Run("the Deployment's selector selects its pods, and only them", func(t *testing.T) {
		sel, err := metav1.LabelSelectorAsSelector(dep.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(podLabels) {
			t.Errorf("selector %v (%v) does not select the template's labels %v", dep.Spec.Selector, err, pod.Labels)
		}
		for key, obj := range m {
			if ss, ok := obj.(*appsv1.StatefulSet); ok && sel.Matches(labels.Set(ss.Spec.Template.Labels)) {
				t.Errorf("the Deployment's selector also selects %s's pods", key)
			}
		}
	})

	if len(c.Command) > 0 {
		t.Errorf("command %q replaces the image's ENTRYPOINT", c.Command)
	}
	flags, projectDir := serveArgs(t, c.Args)
	port := func(flag string) int32 {
		t.Helper()
		_, p, err := net.SplitHostPort(flags[flag])
		n, err2 := strconv.Atoi(p)
		if err != nil || err2 != nil {
			t.Fatalf("--%s %q: want HOST:PORT", flag, flags[flag])
		}
		return int32(n)
	}
	publicPort, adminPort := port("addr"), port("admin-addr")
	containerPort := func(p intOrName) (int32, bool) {
		for _, cp := range c.Ports {
			if (p.name != "" && cp.Name == p.name) || (p.name == "" && cp.ContainerPort == p.number) {
				return cp.ContainerPort, true
			}
		}
		return 0, false
	}

	t.Run("the server listens beyond loopback on the container's ports", func(t *testing.T) {
		for _, f := range []string{"addr", "admin-addr"} {
			if host, _, _ := net.SplitHostPort(flags[f]); host != "0.0.0.0" && host != "" && host != "::" {
				t.Errorf("--%s %s: the kubelet and the Service cannot reach it", f, flags[f])
			}
		}
		for _, want := range []struct {
			name string
			port int32
		}{{"http", publicPort}, {"admin", adminPort}} {
			if got, ok := containerPort(intOrName{name: want.name}); !ok || got != want.port {
				t.Errorf("container port %q: %d, want %d (from the flags)", want.name, got, want.port)
			}
		}
	})

	t.Run("readiness on /readyz and liveness on /healthz, on the admin port", func(t *testing.T) {
		for _, p := range []struct {
			name  string
			probe *corev1.Probe
			path  string
		}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("%s: want an httpGet probe", p.name)
				continue
			}
			if p.probe.HTTPGet.Path != p.path {
				t.Errorf("%s: path %s, want %s", p.name, p.probe.HTTPGet.Path, p.path)
			}
			if got, ok := containerPort(intOrNameOf(p.probe.HTTPGet.Port)); !ok || got != adminPort {
				t.Errorf("%s: port %v is %d, want the admin port %d", p.name, p.probe.HTTPGet.Port.String(), got, adminPort)
			}
		}
		if c.StartupProbe == nil && c.LivenessProbe != nil && c.LivenessProbe.InitialDelaySeconds > 0 {
			t.Errorf("livenessProbe waits %ds: /healthz answers as soon as the process runs", c.LivenessProbe.InitialDelaySeconds)
		}
	})

	t.Run("the grace period covers the shutdown delay and the drain", func(t *testing.T) {
		delay, err := time.ParseDuration(flags["shutdown-delay"])
		if err != nil || delay <= 0 {
			t.Fatalf("--shutdown-delay %q: want a positive duration, so that endpoints are removed before the drain", flags["shutdown-delay"])
		}
		drain := drainTimeout(t)
		grace := pod.Spec.TerminationGracePeriodSeconds
		if grace == nil || time.Duration(*grace)*time.Second <= delay+drain {
			t.Errorf("terminationGracePeriodSeconds %v, want more than --shutdown-delay %v + the drain %v", grace, delay, drain)
		}
		if c.ReadinessProbe != nil {
			if detect := time.Duration(c.ReadinessProbe.PeriodSeconds*c.ReadinessProbe.FailureThreshold) * time.Second; detect >= delay {
				t.Errorf("readiness notices the drain after %v, not within --shutdown-delay %v", detect, delay)
			}
		}
	})

	mounts := map[string]corev1.VolumeMount{}
	for _, vm := range c.VolumeMounts {
		mounts[vm.MountPath] = vm
	}
	volume := func(name string) corev1.Volume {
		for _, v := range pod.Spec.Volumes {
			if v.Name == name {
				return v
			}
		}
		t.Fatalf("no volume %q", name)
		return corev1.Volume{}
	}

	t.Run("the project: an image volume pinned by digest, mounted read-only", func(t *testing.T) {
		vm, ok := mounts[projectDir]
		if !ok {
			t.Fatalf("nothing is mounted at the project folder %s", projectDir)
		}
		if !vm.ReadOnly {
			t.Errorf("the project at %s is mounted writable", projectDir)
		}
		v := volume(vm.Name)
		switch {
		case v.Image != nil:
			if !digestPinned.MatchString(v.Image.Reference) {
				t.Errorf("project image %q is not pinned by digest: replicas could serve different versions", v.Image.Reference)
			}
		case v.ConfigMap != nil:
		default:
			t.Errorf("project volume %q is neither an image nor a ConfigMap", vm.Name)
		}
		if _, ok := flags["no-build"]; !ok {
			t.Errorf("serve without --no-build: the image has no Go toolchain, and the project is read-only")
		}
	})

	t.Run("the compilation cache: a writable emptyDir above --cache-max-size", func(t *testing.T) {
		vm, ok := mounts[flags["cache-dir"]]
		if !ok {
			t.Fatalf("nothing is mounted at --cache-dir %q: the root filesystem is read-only", flags["cache-dir"])
		}
		if vm.ReadOnly {
			t.Errorf("the cache at %s is read-only", vm.MountPath)
		}
		v := volume(vm.Name)
		if v.EmptyDir == nil {
			t.Fatalf("cache volume %q is not an emptyDir", vm.Name)
		}
		max, err := resource.ParseQuantity(strings.TrimSuffix(flags["cache-max-size"], "B"))
		if err != nil || max.IsZero() {
			t.Fatalf("--cache-max-size %q: want a bound (e.g. 1GiB)", flags["cache-max-size"])
		}
		if v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.Cmp(max) <= 0 {
			t.Errorf("emptyDir sizeLimit %v, want above --cache-max-size %s: the kubelet evicts the pod past it", v.EmptyDir.SizeLimit, flags["cache-max-size"])
		}
	})

	t.Run("--kv points at the Redis Service, which selects the store's pods", func(t *testing.T) {
		u, err := url.Parse(flags["kv"])
		if err != nil || u.Scheme != "redis" {
			t.Fatalf("--kv %q: want redis://SERVICE:PORT", flags["kv"])
		}
		svc := get[*corev1.Service](t, m, "Service/"+u.Hostname())
		var port *corev1.ServicePort
		for i := range svc.Spec.Ports {
			if strconv.Itoa(int(svc.Spec.Ports[i].Port)) == u.Port() {
				port = &svc.Spec.Ports[i]
			}
		}
		if port == nil {
			t.Fatalf("Service %s has no port %s", svc.Name, u.Port())
		}
		var store *appsv1.StatefulSet
		for _, obj := range m {
			if ss, ok := obj.(*appsv1.StatefulSet); ok && labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(ss.Spec.Template.Labels)) {
				store = ss
			}
		}
		if store == nil || len(svc.Spec.Selector) == 0 {
			t.Fatalf("Service %s selects no StatefulSet's pods", svc.Name)
		}
		sc := store.Spec.Template.Spec.Containers[0]
		found := false
		for _, cp := range sc.Ports {
			found = found || (port.TargetPort.StrVal != "" && cp.Name == port.TargetPort.StrVal) || cp.ContainerPort == port.TargetPort.IntVal
		}
		if !found {
			t.Errorf("Service %s's targetPort %s is no port of %s", svc.Name, port.TargetPort.String(), store.Name)
		}
		if !slices.Contains(sc.Args, "--appendonly") || len(store.Spec.VolumeClaimTemplates) == 0 {
			t.Errorf("the store keeps no append-only file on a persistent volume: acknowledged writes die with the pod")
		}
		if i := slices.Index(sc.Args, "--maxmemory-policy"); i < 0 || sc.Args[i+1] != "noeviction" {
			t.Errorf("the store may evict keys (--maxmemory-policy): the key-value store would lose data silently")
		}
		// Only wasmroute's pods reach it.
		np := get[*networkingv1.NetworkPolicy](t, m, "NetworkPolicy/"+svc.Name)
		npSel, _ := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if !npSel.Matches(labels.Set(store.Spec.Template.Labels)) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
			t.Errorf("NetworkPolicy %s does not guard the store's pods", np.Name)
		}
		for _, rule := range np.Spec.Ingress {
			for _, peer := range rule.From {
				sel, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
				if peer.PodSelector == nil || err != nil || sel.Empty() || !sel.Matches(podLabels) || peer.NamespaceSelector != nil || peer.IPBlock != nil {
					t.Errorf("NetworkPolicy %s lets in %+v: want wasmroute's pods only", np.Name, peer)
				}
			}
		}
	})

	t.Run("the public Service selects the pods, on the public port only", func(t *testing.T) {
		svc := get[*corev1.Service](t, m, "Service/wasmroute")
		if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
			t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, pod.Labels)
		}
		for _, p := range svc.Spec.Ports {
			got, ok := containerPort(intOrNameOf(p.TargetPort))
			if !ok {
				t.Errorf("Service port %s: targetPort %s is no container port", p.Name, p.TargetPort.String())
			}
			if got == adminPort {
				t.Errorf("Service port %s exposes the admin port: the probes are the operator's", p.Name)
			}
		}
	})

	t.Run("the HorizontalPodAutoscaler scales the Deployment by CPU", func(t *testing.T) {
		hpa := get[*autoscalingv2.HorizontalPodAutoscaler](t, m, "HorizontalPodAutoscaler/wasmroute")
		ref := hpa.Spec.ScaleTargetRef
		if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != dep.Name {
			t.Errorf("scaleTargetRef %+v, want apps/v1 Deployment %s", ref, dep.Name)
		}
		if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas < *hpa.Spec.MinReplicas {
			t.Errorf("replicas %v..%d: want at least 2, so that one can go", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
		}
		for _, metric := range hpa.Spec.Metrics {
			if metric.Resource != nil && metric.Resource.Target.Type == autoscalingv2.UtilizationMetricType {
				if _, ok := c.Resources.Requests[metric.Resource.Name]; !ok {
					t.Errorf("the HPA targets %s utilization, which the container does not request", metric.Resource.Name)
				}
			}
		}
	})

	t.Run("the PodDisruptionBudget covers the Deployment's pods", func(t *testing.T) {
		pdb := get[*policyv1.PodDisruptionBudget](t, m, "PodDisruptionBudget/wasmroute")
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(podLabels) {
			t.Errorf("selector %v does not select the pods %v", pdb.Spec.Selector, pod.Labels)
		}
		if pdb.Spec.MaxUnavailable == nil && pdb.Spec.MinAvailable == nil {
			t.Errorf("neither maxUnavailable nor minAvailable")
		}
		if mu := pdb.Spec.MaxUnavailable; mu != nil && mu.IntVal != 1 {
			t.Errorf("maxUnavailable %s, want 1", mu.String())
		}
	})

	t.Run("the server's flags agree with the image's CMD", func(t *testing.T) {
		img := dockerfile(t)
		cmdFlags, cmdProject := serveArgs(t, img.cmd)
		if cmdProject != projectDir {
			t.Errorf("project folder %s, the image's %s", projectDir, cmdProject)
		}
		for name, v := range cmdFlags {
			// --data-dir is the embedded store's, which --kv replaces.
			if name == "data-dir" {
				continue
			}
			if got, ok := flags[name]; !ok || got != v {
				t.Errorf("--%s %q, the image's CMD says %q", name, got, v)
			}
		}
		uid, _, _ := strings.Cut(img.user, ":")
		if sc := pod.Spec.SecurityContext; sc == nil || sc.RunAsUser == nil || strconv.FormatInt(*sc.RunAsUser, 10) != uid {
			t.Errorf("runAsUser is not the image's USER %s", img.user)
		}
	})

	for key, obj := range m {
		var spec corev1.PodSpec
		switch o := obj.(type) {
		case *appsv1.Deployment:
			spec = o.Spec.Template.Spec
		case *appsv1.StatefulSet:
			spec = o.Spec.Template.Spec
		default:
			continue
		}
		t.Run(key+" runs locked down", func(t *testing.T) { lockedDown(t, spec) })
	}
}

// lockedDown checks a pod's security: non-root, read-only root, no
// privilege, no capability, no host namespace or path, no API token,
// resources requested and memory bounded, images not floating.
func lockedDown(t *testing.T, spec corev1.PodSpec) {
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and a non-zero runAsUser", psc)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("no RuntimeDefault seccomp profile")
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		t.Errorf("shares a host namespace")
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("mounts a service account token it never uses")
	}
	for _, v := range spec.Volumes {
		if v.HostPath != nil {
			t.Errorf("volume %s is a hostPath", v.Name)
		}
	}
	for _, c := range append(slices.Clone(spec.InitContainers), spec.Containers...) {
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s: no securityContext", c.Name)
			continue
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s: root filesystem writable", c.Name)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s: privilege escalation allowed", c.Name)
		case sc.Privileged != nil && *sc.Privileged:
			t.Errorf("%s: privileged", c.Name)
		case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
			t.Errorf("%s: runAsNonRoot unset", c.Name)
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("%s: capabilities %+v, want drop [ALL] and none added", c.Name, sc.Capabilities)
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := c.Resources.Requests[r]; !ok || q.IsZero() {
				t.Errorf("%s: no %s request", c.Name, r)
			}
		}
		if q, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok || q.Cmp(c.Resources.Requests[corev1.ResourceMemory]) < 0 {
			t.Errorf("%s: memory limit %v, want one at least the request", c.Name, c.Resources.Limits.Memory())
		}
		if strings.HasSuffix(c.Image, ":latest") || !strings.ContainsAny(c.Image, ":@") {
			t.Errorf("%s: image %s floats", c.Name, c.Image)
		}
		if c.LivenessProbe == nil || c.ReadinessProbe == nil {
			t.Errorf("%s: no liveness or readiness probe", c.Name)
		}
	}
}

// intOrName is a port given by number or by name.
type intOrName struct {
	name   string
	number int32
}

func intOrNameOf(p intstr.IntOrString) intOrName {
	if p.Type == intstr.Int {
		return intOrName{number: p.IntVal}
	}
	return intOrName{name: p.StrVal}
}
