package cli

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, COPY...
	args string
}

// stage is one FROM ... [AS name] and the instructions under it.
type stage struct {
	name, base string
	body       []instruction
}

// parseDockerfile reads path into its global ARGs and stages.
func parseDockerfile(t *testing.T, path string) (args map[string]string, stages []*stage) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	args = map[string]string{}
	var pending string
	start := 0
	for i, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		if pending == "" && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if pending == "" {
			start = i + 1
		}
		if strings.HasSuffix(trimmed, "\\") {
			pending += strings.TrimSuffix(trimmed, "\\") + " "
			continue
		}
		full := pending + trimmed
		pending = ""
		cmd, rest, _ := strings.Cut(full, " ")
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(rest)}
		switch {
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			if strings.HasPrefix(f[0], "--platform=") {
				f = f[1:]
			}
			s := &stage{base: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			}
			stages = append(stages, s)
		case len(stages) == 0 && in.cmd == "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		case len(stages) == 0:
			t.Fatalf("%s:%d: %s before the first FROM", path, in.line, in.cmd)
		default:
			s := stages[len(stages)-1]
			s.body = append(s.body, in)
		}
	}
	return args, stages
}

// execForm decodes a JSON-array (exec form) argument, as hadolint's DL3025 asks.
func execForm(t *testing.T, in instruction) []string {
	t.Helper()
	var argv []string
	if err := json.Unmarshal([]byte(in.args), &argv); err != nil {
		t.Fatalf("Dockerfile:%d: %s %s is not in exec (JSON) form: %v", in.line, in.cmd, in.args, err)
	}
	return argv
}

func find(s *stage, cmd string) []instruction {
	return slices.DeleteFunc(slices.Clone(s.body), func(in instruction) bool { return in.cmd != cmd })
}

// TestDockerfile checks what no image build can check here (no Docker
// daemon): the final stage is a static distroless base with a non-root user,
// ENTRYPOINT ["keyage"], state under /var/lib/keyage; both ways of getting
// the binary give the static CGO_ENABLED=0 one; the CMD and HEALTHCHECK
// arguments are flags keyage accepts; and hadolint's rules that apply.
func TestDockerfile(t *testing.T) {
	const path = "../../Dockerfile"
	args, stages := parseDockerfile(t, path)
	byName := map[string]*stage{}
	for _, s := range stages {
		if s.name != "" {
			byName[s.name] = s
		}
	}
	final := stages[len(stages)-1]

	t.Run("final base is distroless static, pinned, non-root variant", func(t *testing.T) {
		if !regexp.MustCompile(`^gcr\.io/distroless/static-debian\d+:nonroot$`).MatchString(final.base) {
			t.Errorf("final FROM %s, want gcr.io/distroless/static-debian<N>:nonroot (CA certificates, no libc, no shell)", final.base)
		}
	})
	t.Run("hadolint DL3006/DL3007: every image tagged, none latest", func(t *testing.T) {
		for _, s := range stages {
			if byName[s.base] != nil || strings.HasPrefix(s.base, "$") || s.base == "scratch" {
				continue
			}
			if !strings.Contains(s.base, ":") || strings.HasSuffix(s.base, ":latest") {
				t.Errorf("FROM %s: want a pinned tag", s.base)
			}
		}
	})
	t.Run("hadolint DL3002: last USER is not root", func(t *testing.T) {
		users := find(final, "USER")
		if len(users) == 0 {
			t.Fatal("final stage sets no USER")
		}
		u, _, _ := strings.Cut(users[len(users)-1].args, ":")
		if u == "root" || u == "0" || u == "" {
			t.Errorf("final USER %q, want non-root", users[len(users)-1].args)
		}
	})
	t.Run("ENTRYPOINT is keyage", func(t *testing.T) {
		eps := find(final, "ENTRYPOINT")
		if len(eps) != 1 {
			t.Fatalf("final stage has %d ENTRYPOINTs, want 1", len(eps))
		}
		if got := execForm(t, eps[0]); !slices.Equal(got, []string{"keyage"}) {
			t.Errorf("ENTRYPOINT %q, want [\"keyage\"]", got)
		}
	})
	t.Run("hadolint DL3000, DL3020, DL3022", func(t *testing.T) {
		for _, s := range stages {
			for _, in := range s.body {
				switch in.cmd {
				case "WORKDIR":
					if !strings.HasPrefix(in.args, "/") {
						t.Errorf("Dockerfile:%d: WORKDIR %s is not absolute (DL3000)", in.line, in.args)
					}
				case "ADD":
					t.Errorf("Dockerfile:%d: ADD, want COPY (DL3020)", in.line)
				case "COPY":
					if m := regexp.MustCompile(`--from=(\S+)`).FindStringSubmatch(in.args); m != nil && byName[m[1]] == nil {
						t.Errorf("Dockerfile:%d: COPY --from=%s names no earlier stage (DL3022)", in.line, m[1])
					}
				}
			}
		}
	})

	// The binary: final copies /usr/local/bin/keyage from the stage that
	// ARG BINARY names, "source" by default and "prebuilt" for goreleaser.
	t.Run("the copied binary is the static one", func(t *testing.T) {
		var from string
		for _, in := range find(final, "COPY") {
			if strings.HasSuffix(in.args, " /usr/local/bin/keyage") {
				from = regexp.MustCompile(`--from=(\S+)`).FindStringSubmatch(in.args)[1]
				if !strings.Contains(in.args, " /out/keyage ") {
					t.Errorf("Dockerfile:%d: COPY %s, want /out/keyage", in.line, in.args)
				}
			}
		}
		sel := byName[from]
		if sel == nil || sel.base != "${BINARY}" {
			t.Fatalf("the binary comes from stage %q, want the stage selected by ARG BINARY", from)
		}
		if args["BINARY"] != "source" {
			t.Errorf("ARG BINARY=%s, want source (docker build . compiles)", args["BINARY"])
		}
		src, pre := byName["source"], byName["prebuilt"]
		if src == nil || pre == nil {
			t.Fatal("want stages source and prebuilt")
		}
		var built bool
		for _, in := range find(src, "RUN") {
			if strings.Contains(in.args, "go build") {
				built = true
				for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-o /out/keyage", "./cmd/keyage"} {
					if !strings.Contains(in.args, want) {
						t.Errorf("Dockerfile:%d: the source stage's go build lacks %s", in.line, want)
					}
				}
			}
		}
		if !built {
			t.Error("the source stage runs no go build")
		}
		if c := find(pre, "COPY"); len(c) != 1 || c[0].args != "$TARGETPLATFORM/keyage /out/keyage" {
			t.Errorf("prebuilt stage copies %v, want goreleaser's $TARGETPLATFORM/keyage to /out/keyage", c)
		}
		// goreleaser's binaries, which the prebuilt stage copies, are static
		// too, and its image build selects that stage.
		var gr struct {
			Builds []struct {
				Env   []string
				Flags []string
			}
			DockersV2 []struct {
				Dockerfile string
				BuildArgs  map[string]string `yaml:"build_args"`
			} `yaml:"dockers_v2"`
		}
		b, err := os.ReadFile("../../.goreleaser.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &gr); err != nil {
			t.Fatalf(".goreleaser.yaml: %v", err)
		}
		if len(gr.Builds) != 1 || !slices.Contains(gr.Builds[0].Env, "CGO_ENABLED=0") || !slices.Contains(gr.Builds[0].Flags, "-trimpath") {
			t.Errorf(".goreleaser.yaml builds = %+v, want one with CGO_ENABLED=0 and -trimpath", gr.Builds)
		}
		if len(gr.DockersV2) != 1 || gr.DockersV2[0].Dockerfile != "Dockerfile" || gr.DockersV2[0].BuildArgs["BINARY"] != "prebuilt" {
			t.Errorf(".goreleaser.yaml dockers_v2 = %+v, want the Dockerfile with BINARY: prebuilt", gr.DockersV2)
		}
	})
	t.Run("the Go image matches go.mod", func(t *testing.T) {
		mod, err := os.ReadFile("../../go.mod")
		if err != nil {
			t.Fatal(err)
		}
		goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)[1]
		if want := "golang:" + string(goVersion) + "-"; !strings.HasPrefix(byName["source"].base, want) {
			t.Errorf("source stage FROM %s, want %s...", byName["source"].base, want)
		}
	})
	t.Run("state under /var/lib/keyage, owned by the user", func(t *testing.T) {
		var owned bool
		for _, in := range find(final, "COPY") {
			if strings.HasSuffix(in.args, " /var/lib/keyage") && strings.Contains(in.args, "--chown=65532:65532") {
				owned = true
			}
		}
		if !owned || strings.Join(argsOf(find(final, "USER")), "") != "65532:65532" {
			t.Error("want /var/lib/keyage created owned by 65532:65532, and USER 65532:65532")
		}
		if w := find(final, "WORKDIR"); len(w) == 0 || w[len(w)-1].args != "/var/lib/keyage" {
			t.Errorf("final WORKDIR %v, want /var/lib/keyage", w)
		}
	})
	t.Run("CMD and HEALTHCHECK are flags keyage accepts", func(t *testing.T) {
		cmds := find(final, "CMD")
		if len(cmds) != 1 {
			t.Fatalf("final stage has %d CMDs, want 1", len(cmds))
		}
		argv := execForm(t, cmds[0])
		checkFlags(t, "Dockerfile CMD", argv)
		if !slices.Contains(argv, "/var/lib/keyage/keyage.db") {
			t.Errorf("CMD %q keeps the state outside /var/lib/keyage", argv)
		}
		hc := find(final, "HEALTHCHECK")
		if len(hc) != 1 {
			t.Fatalf("final stage has %d HEALTHCHECKs, want 1", len(hc))
		}
		_, probe, _ := strings.Cut(hc[0].args, "CMD ")
		argv = execForm(t, instruction{line: hc[0].line, cmd: "HEALTHCHECK CMD", args: probe})
		if argv[0] != "keyage" {
			t.Fatalf("HEALTHCHECK runs %q, want keyage (no curl in distroless)", argv)
		}
		checkFlags(t, "Dockerfile HEALTHCHECK", argv[1:])
	})
}

func argsOf(ins []instruction) []string {
	var out []string
	for _, in := range ins {
		out = append(out, in.args)
	}
	return out
}

// checkFlags parses argv (a subcommand and its flags) as keyage would,
// without running it.
func checkFlags(t *testing.T, where string, argv []string) {
	t.Helper()
	root := newRootCmd(&IO{})
	cmd, rest, err := root.Find(argv)
	if err != nil || cmd == root {
		t.Fatalf("%s %q: no such command: %v", where, argv, err)
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Errorf("%s %q: %v", where, argv, err)
	}
	if len(cmd.Flags().Args()) != 0 {
		t.Errorf("%s %q: unexpected arguments %q", where, argv, cmd.Flags().Args())
	}
}

// TestKubernetesManifestArgs checks that the container arguments of
// deploy/kubernetes are flags "keyage serve" accepts (tools/deploycheck
// decodes the whole manifest with the Kubernetes API types).
func TestKubernetesManifestArgs(t *testing.T) {
	b, err := os.ReadFile("../../deploy/kubernetes/keyage.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var found int
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var d struct {
			Kind string
			Spec struct {
				Template struct {
					Spec struct {
						Containers []struct {
							Name string
							Args []string
						}
					}
				}
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatal(err)
		}
		if d.Kind != "Deployment" {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			found++
			checkFlags(t, "container "+c.Name+" args", c.Args)
		}
	}
	if found == 0 {
		t.Fatal("the manifest has no Deployment container")
	}
}
