package config

import (
	"net/url"
	"strings"
)

// Server is what keyage serve's dashboard is known as from outside.
type Server struct {
	// ExternalURL is the dashboard's address as people reach it
	// (https://keyage.example.com). Run summaries link to it for what does
	// not fit in a message; empty leaves the link out.
	ExternalURL string `yaml:"externalURL,omitempty"`
}

func (s *Server) setDefaults(c *checker) {
	s.ExternalURL = strings.TrimRight(s.ExternalURL, "/")
}

func (s *Server) validate(c *checker) {
	if s.ExternalURL == "" {
		return
	}
	u, err := url.Parse(s.ExternalURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		c.errorf("externalURL", "%q: not an http or https URL, such as https://keyage.example.com", s.ExternalURL)
		return
	}
	if u.RawQuery != "" || u.Fragment != "" {
		c.errorf("externalURL", "%q: a base URL has no query or fragment", s.ExternalURL)
	}
}
