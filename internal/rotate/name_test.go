package rotate

import (
	"testing"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/rule"
)

func TestSecretName(t *testing.T) {
	u := rule.User{UserID: "AIDAEXAMPLE", UserName: "deploy,bot"}
	for _, tt := range []struct {
		name, tmpl, want string
	}{
		{"default, comma replaced", "", "keyage/access-keys/deploy_bot"},
		{"all placeholders", "keyage/{accountId}/{userId}/{userName}", "keyage/222222222222/AIDAEXAMPLE/deploy_bot"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := SecretName(tt.tmpl, "222222222222", u); got != tt.want {
				t.Errorf("SecretName(%q) = %q, want %q", tt.tmpl, got, tt.want)
			}
		})
	}
}

func TestOpted(t *testing.T) {
	on := &config.Rotate{Enabled: true, Match: config.RouteMatch{OU: config.StringList{"Workloads/Prod"}}}
	for _, tt := range []struct {
		name   string
		rotate *config.Rotate
		tags   map[string]string
		ou     string
		want   bool
	}{
		{"rotation off", nil, map[string]string{config.RotateTag: config.RotateTagValue}, "", false},
		{"tagged", &config.Rotate{Enabled: true}, map[string]string{config.RotateTag: config.RotateTagValue}, "", true},
		{"in the OU", on, nil, "Workloads/Prod/Team", true},
		{"outside the OU", on, nil, "Workloads/Dev", false},
		{"neither match nor tag", &config.Rotate{Enabled: true}, nil, "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{}
			cfg.Lifecycle.Rotate = tt.rotate
			if got := Opted(cfg, rule.User{Tags: tt.tags}, "", tt.ou); got != tt.want {
				t.Errorf("Opted(tags %v, ou %q) = %v, want %v", tt.tags, tt.ou, got, tt.want)
			}
		})
	}
}
