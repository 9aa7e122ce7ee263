package config

import (
	"fmt"
	"net/url"
	"regexp"
	"time"
)

// Scan tunes how accounts are inventoried.
type Scan struct {
	// Source is where the inventory comes from; default auto.
	Source Source `yaml:"source"`
	// Concurrency bounds the accounts scanned at once: 1 to 1024, default 16.
	Concurrency int `yaml:"concurrency"`
	// AccountTimeout bounds the scan of one account; default 5m.
	AccountTimeout Duration `yaml:"accountTimeout"`
	// WithTags fetches user tags even with the credential-report source.
	WithTags bool `yaml:"withTags"`
	// Region is the AWS region for API calls; "" uses the SDK's
	// configuration (AWS_REGION, the profile).
	Region string `yaml:"region"`
	// EndpointURL overrides the AWS endpoint (the sandbox); "" uses
	// AWS_ENDPOINT_URL or the real AWS endpoints.
	EndpointURL string `yaml:"endpointUrl"`
}

// Source is an inventory source.
type Source string

// The inventory sources.
const (
	// SourceAuto reads the credential report, then ListAccessKeys for the
	// users the report flags.
	SourceAuto Source = "auto"
	// SourceAPI calls ListUsers and ListAccessKeys for every user.
	SourceAPI Source = "api"
	// SourceCredentialReport reads the credential report only.
	SourceCredentialReport Source = "credential-report"
)

// Sources lists the valid sources.
var Sources = []Source{SourceAuto, SourceAPI, SourceCredentialReport}

// ParseSource parses a source name, as given to --source.
func ParseSource(s string) (Source, error) {
	for _, src := range Sources {
		if s == string(src) {
			return src, nil
		}
	}
	return "", fmt.Errorf("%q: unknown source (use auto, api or credential-report)", s)
}

// Defaults of the scan section.
const (
	DefaultConcurrency    = 16
	DefaultAccountTimeout = Duration(5 * time.Minute)
)

var regionRE = regexp.MustCompile(`^[a-z]{2,}(-[a-z0-9]+)*-[0-9]+$`)

func (s *Scan) setDefaults(c *checker) {
	defaultTo(c, "source", &s.Source, SourceAuto)
	defaultTo(c, "concurrency", &s.Concurrency, DefaultConcurrency)
	defaultTo(c, "accountTimeout", &s.AccountTimeout, DefaultAccountTimeout)
}

func (s *Scan) validate(c *checker) {
	if _, err := ParseSource(string(s.Source)); err != nil {
		c.errorf("source", "%v", err)
	}
	if s.Concurrency < 1 || s.Concurrency > 1024 {
		c.errorf("concurrency", "%d: must be between 1 and 1024", s.Concurrency)
	}
	if s.AccountTimeout < Duration(time.Second) {
		c.errorf("accountTimeout", "%s: must be at least 1s", s.AccountTimeout)
	}
	if s.Region != "" && !regionRE.MatchString(s.Region) {
		c.errorf("region", "%q: not an AWS region name such as us-east-1", s.Region)
	}
	if s.EndpointURL != "" {
		u, err := url.Parse(s.EndpointURL)
		switch {
		case err != nil:
			c.errorf("endpointUrl", "not a URL") // the parse error may echo credentials
		case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			c.errorf("endpointUrl", "%q: want an http or https URL such as http://127.0.0.1:4566", u.Redacted())
		}
	}
}
