package config

import (
	"net"
	"net/mail"
	"strings"
)

// EmailConfig sends mail through SMTP or SES (exactly one of the two).
type EmailConfig struct {
	SMTP *SMTPConfig `yaml:"smtp,omitempty"`
	SES  *SESConfig  `yaml:"ses,omitempty"`
	// From is the sender address. Required.
	From string `yaml:"from"`
	// To are the recipients: addresses or templates such as
	// "{{ .Owner }}". At least one.
	To []string `yaml:"to"`
	// CC are copy recipients, addresses or templates.
	CC []string `yaml:"cc"`
}

// SMTPConfig is an SMTP server and how to log in to it.
type SMTPConfig struct {
	// Host name or IP address of the server, without a port. Required.
	Host string `yaml:"host"`
	// Port defaults by TLS mode: 587 for starttls, 465 for tls, 25 for none.
	Port int `yaml:"port"`
	// TLS is starttls (the default), tls (implicit TLS) or none. none is
	// allowed only for a loopback host or with Insecure.
	TLS string `yaml:"tls"`
	// Insecure allows tls: none to a host that is not the local machine.
	Insecure bool `yaml:"insecure"`

	// The login name: inline, from an environment variable or from a file.
	// Optional; with a username the password is required.
	Username     string `yaml:"username"`
	UsernameEnv  string `yaml:"usernameEnv"`
	UsernameFile string `yaml:"usernameFile"`
	// The password, from an environment variable or a file.
	PasswordEnv  string `yaml:"passwordEnv"`
	PasswordFile string `yaml:"passwordFile"`
}

// SESConfig sends with Amazon SES v2 SendEmail.
type SESConfig struct {
	// Region of the SES endpoint; "" uses the scan's region.
	Region string `yaml:"region"`
	// ConfigurationSet is passed to SendEmail when set.
	ConfigurationSet string `yaml:"configurationSet"`
}

// The SMTP TLS modes.
const (
	SMTPStartTLS = "starttls"
	SMTPTLS      = "tls"
	SMTPNoTLS    = "none"
)

// UsernameSecret returns where the SMTP login name comes from.
func (s SMTPConfig) UsernameSecret() SecretRef {
	return SecretRef{Value: s.Username, Env: s.UsernameEnv, File: s.UsernameFile}
}

// PasswordSecret returns where the SMTP password comes from.
func (s SMTPConfig) PasswordSecret() SecretRef {
	return SecretRef{Env: s.PasswordEnv, File: s.PasswordFile}
}

func (e *EmailConfig) setDefaults(c *checker) {
	if e.SMTP != nil {
		e.SMTP.setDefaults(c.in("smtp"))
	}
}

func (s *SMTPConfig) setDefaults(c *checker) {
	defaultTo(c, "tls", &s.TLS, SMTPStartTLS)
	if s.Port == 0 && !c.set("port") {
		switch s.TLS {
		case SMTPStartTLS:
			s.Port = 587
		case SMTPTLS:
			s.Port = 465
		case SMTPNoTLS:
			s.Port = 25
		}
	}
}

func (e *EmailConfig) validate(c *checker) {
	switch {
	case e.SMTP == nil && e.SES == nil:
		c.errorf("", "smtp or ses is required")
	case e.SMTP != nil && e.SES != nil:
		c.errorf("ses", "cannot be combined with smtp; an email receiver sends one way")
	}
	if e.SMTP != nil {
		e.SMTP.validate(c.in("smtp"))
	}
	if e.SES != nil {
		c.region("ses.region", e.SES.Region)
	}
	switch _, err := mail.ParseAddress(e.From); {
	case e.From == "":
		c.errorf("from", "required")
	case err != nil:
		c.errorf("from", "%q: not an email address", e.From)
	}
	if len(e.To) == 0 {
		c.errorf("to", "at least one recipient is required")
	}
	c.recipients("to", e.To)
	c.recipients("cc", e.CC)
}

// recipients checks a list of addresses or templates.
func (c *checker) recipients(key string, list []string) {
	for i, r := range list {
		k := key + index(i)
		switch _, err := mail.ParseAddress(r); {
		case r == "":
			c.errorf(k, "empty")
		case IsTemplate(r):
			c.template(k, r)
		case err != nil:
			c.errorf(k, "%q: not an email address or a template such as {{ .Owner }}", r)
		}
	}
}

func (s *SMTPConfig) validate(c *checker) {
	switch {
	case s.Host == "":
		c.errorf("host", "required")
	case strings.ContainsAny(s.Host, ":/ ") && net.ParseIP(s.Host) == nil:
		c.errorf("host", "%q: a host name or IP address, without scheme or port (set port)", s.Host)
	}
	if s.Port < 1 || s.Port > 65535 {
		c.errorf("port", "%d: must be between 1 and 65535", s.Port)
	}
	switch s.TLS {
	case SMTPStartTLS, SMTPTLS:
	case SMTPNoTLS:
		if s.Host != "" && !isLoopback(s.Host) && !s.Insecure {
			c.errorf("tls", "none sends mail and passwords in clear text; allowed for localhost, or set insecure: true")
		}
	default:
		c.errorf("tls", "%q: use starttls, tls or none", s.TLS)
	}
	c.secret("username", s.UsernameSecret(), true, false)
	c.secret("password", s.PasswordSecret(), false, false)
	switch user, pass := s.UsernameSecret().IsSet(), s.PasswordSecret().IsSet(); {
	case user && !pass:
		c.errorf("", "a username needs a password: set passwordEnv or passwordFile")
	case pass && !user:
		c.errorf("", "a password needs a username: set username, usernameEnv or usernameFile")
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
