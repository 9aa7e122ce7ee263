// Package deploycheck_test checks the deployment files at the repository's
// root against the Kubernetes API types, which keyage itself does not import.
package deploycheck_test

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const manifest = "../../deploy/kubernetes/keyage.yaml"

// decode splits the manifest into documents and decodes each strictly into
// the API type of its kind: an unknown or misspelt field is an error.
func decode(t *testing.T) map[string]any {
	t.Helper()
	b, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]any{}
	for i, doc := range bytes.Split(b, []byte("\n---\n")) {
		var meta struct{ APIVersion, Kind string }
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("%s document %d: %v", manifest, i, err)
		}
		var obj any
		switch meta.APIVersion + " " + meta.Kind {
		case "v1 ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "v1 ConfigMap":
			obj = &corev1.ConfigMap{}
		case "v1 PersistentVolumeClaim":
			obj = &corev1.PersistentVolumeClaim{}
		case "v1 Service":
			obj = &corev1.Service{}
		case "apps/v1 Deployment":
			obj = &appsv1.Deployment{}
		default:
			t.Fatalf("%s document %d: unexpected %s %s", manifest, i, meta.APIVersion, meta.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatalf("%s document %d (%s): %v", manifest, i, meta.Kind, err)
		}
		if _, dup := objs[meta.Kind]; dup {
			t.Fatalf("%s: two %s documents", manifest, meta.Kind)
		}
		objs[meta.Kind] = obj
	}
	return objs
}

func TestKubernetesManifest(t *testing.T) {
	objs := decode(t)
	for _, kind := range []string{"ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Deployment", "Service"} {
		if objs[kind] == nil {
			t.Fatalf("%s has no %s", manifest, kind)
		}
	}
	dep := objs["Deployment"].(*appsv1.Deployment)
	pvc := objs["PersistentVolumeClaim"].(*corev1.PersistentVolumeClaim)
	cm := objs["ConfigMap"].(*corev1.ConfigMap)
	spec := dep.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("Deployment has %d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m.MountPath
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range spec.Volumes {
		volumes[v.Name] = v
	}
	args := strings.Join(c.Args, " ")

	for _, tt := range []struct {
		name string
		ok   bool
		got  any
	}{
		{"one replica (one SQLite writer)", dep.Spec.Replicas != nil && *dep.Spec.Replicas == 1, dep.Spec.Replicas},
		{"Recreate strategy (a ReadWriteOnce volume)", dep.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType, dep.Spec.Strategy.Type},
		{"selector matches the pod labels", dep.Spec.Selector.MatchLabels["app.kubernetes.io/name"] == dep.Spec.Template.Labels["app.kubernetes.io/name"], dep.Spec.Selector},
		{"runs as non-root 65532", spec.SecurityContext.RunAsNonRoot != nil && *spec.SecurityContext.RunAsNonRoot && spec.SecurityContext.RunAsUser != nil && *spec.SecurityContext.RunAsUser == 65532, spec.SecurityContext},
		{"fsGroup makes the volume writable", spec.SecurityContext.FSGroup != nil && *spec.SecurityContext.FSGroup == 65532, spec.SecurityContext.FSGroup},
		{"read-only root filesystem", c.SecurityContext.ReadOnlyRootFilesystem != nil && *c.SecurityContext.ReadOnlyRootFilesystem, c.SecurityContext},
		{"image is keyage's", strings.HasPrefix(c.Image, "ghcr.io/keyage/keyage:"), c.Image},
		{"runs serve (the image's entrypoint is keyage)", len(c.Command) == 0 && len(c.Args) > 0 && c.Args[0] == "serve", c.Args},
		{"listens on the probed port", strings.Contains(args, "--listen=0.0.0.0:8080") && len(c.Ports) == 1 && c.Ports[0].ContainerPort == 8080, c.Ports},
		{"liveness probe is HTTP /healthz", c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path == "/healthz", c.LivenessProbe},
		{"readiness probe is HTTP /readyz", c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path == "/readyz", c.ReadinessProbe},
		{"state on the PVC at /var/lib/keyage", mounts["state"] == "/var/lib/keyage" && volumes["state"].PersistentVolumeClaim != nil && volumes["state"].PersistentVolumeClaim.ClaimName == pvc.Name, volumes["state"]},
		{"--state inside the volume", strings.Contains(args, "--state=/var/lib/keyage/"), c.Args},
		{"PVC is ReadWriteOnce", slices.Equal(pvc.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}), pvc.Spec.AccessModes},
		{"config from the ConfigMap", mounts["config"] == "/etc/keyage" && volumes["config"].ConfigMap != nil && volumes["config"].ConfigMap.Name == cm.Name && cm.Data["keyage.yaml"] != "" && strings.Contains(args, "--config=/etc/keyage/keyage.yaml"), volumes["config"]},
		{"token from a Secret", volumes["token"].Secret != nil && strings.Contains(args, "--auth-token-file="+mounts["token"]+"/token"), volumes["token"]},
		{"service account is the manifest's", spec.ServiceAccountName == objs["ServiceAccount"].(*corev1.ServiceAccount).Name, spec.ServiceAccountName},
	} {
		if !tt.ok {
			t.Errorf("%s: %s: got %+v", manifest, tt.name, tt.got)
		}
	}
}
