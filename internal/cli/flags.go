package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/output"
)

// addAWSFlags declares the flags that say how to reach AWS, for every command
// that calls it. They have no default of their own: empty means not given,
// and the SDK's configuration (AWS_ENDPOINT_URL, AWS_REGION, AWS_PROFILE, the
// profile's region) or the config's scan section applies.
func addAWSFlags(f *pflag.FlagSet, endpointURL, region, profile *string) {
	f.StringVar(endpointURL, "endpoint-url", "", "AWS endpoint override (also AWS_ENDPOINT_URL), e.g. the sandbox's")
	f.StringVar(region, "region", "", "AWS region (default: AWS_REGION, the profile's, or us-east-1)")
	f.StringVar(profile, "profile", "", "shared config profile (default: AWS_PROFILE)")
}

// addOutputFlags declares -o/--output, accepting only formats (the first is
// the default), and, when all is not nil, --all for the table. A format
// outside the list is a usage error when the flag is parsed.
func addOutputFlags(f *pflag.FlagSet, format *string, all *bool, formats ...output.Format) {
	names := make([]string, len(formats))
	for i, fm := range formats {
		names[i] = string(fm)
	}
	*format = names[0]
	f.VarP(&choiceValue{p: format, choices: names}, "output", "o", "output format: "+orList(names))
	if all != nil {
		f.BoolVar(all, "all", false, "table: list every key, not only warning and expired ones")
	}
}

// choiceValue is a string flag that accepts one of a fixed list of values.
type choiceValue struct {
	p       *string
	choices []string
}

func (v *choiceValue) String() string { return *v.p }
func (v *choiceValue) Type() string   { return "string" }
func (v *choiceValue) Set(s string) error {
	if len(v.choices) == 0 {
		return errors.New("this command prints no data to format")
	}
	if !slices.Contains(v.choices, s) {
		return fmt.Errorf("want %s", orList(v.choices))
	}
	*v.p = s
	return nil
}

// orList writes a, b or c.
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

// configFlag is a scan flag that, when given, overwrites one field of the
// configuration, so that config.Validate checks the value with the config's
// own rule and the config's defaults are the only defaults.
type configFlag struct {
	name string // the flag without dashes, e.g. "concurrency"
	path string // the YAML path of the field it overwrites, e.g. "scan.concurrency"
	// given reports whether the flag's value applies; nil means the user
	// changed the flag. Flags without a default of their own (the AWS flags)
	// apply whenever they are not empty, also when code sets them (the demo).
	given func(o *scanOptions) bool
	// set writes the value; an error is one the value cannot be parsed with.
	set func(cfg *config.Config, o *scanOptions) error
}

// fieldFlag is a flag whose value overwrites the field at path.
func fieldFlag[T any](name, path string, field func(*config.Config) *T, value func(*scanOptions) T) configFlag {
	return configFlag{name: name, path: path, set: func(c *config.Config, o *scanOptions) error {
		*field(c) = value(o)
		return nil
	}}
}

// daysFlag is a flag of whole days that overwrites the field at path.
func daysFlag(name, path string, field func(*config.Config) *config.Days, value func(*scanOptions) int) configFlag {
	return fieldFlag(name, path, field, func(o *scanOptions) config.Days { return config.Days(value(o)) })
}

// awsFlag is an AWS flag (no default of its own) that overwrites the field at
// path whenever it is not empty.
func awsFlag(name, path string, field func(*config.Config) *string, value func(*scanOptions) string) configFlag {
	f := fieldFlag(name, path, field, value)
	f.given = func(o *scanOptions) bool { return value(o) != "" }
	return f
}

// scanConfigFlags lists the scan flags in the order they are written into the
// configuration: --accounts replaces the config's selection, --org and --ou
// then select the organization.
var scanConfigFlags = []configFlag{
	{name: "accounts", path: "accounts.ids", set: func(c *config.Config, o *scanOptions) error {
		ids, err := config.ParseAccountIDs(o.accounts)
		c.Accounts.IDs, c.Accounts.Organization, c.Accounts.OU = ids, false, ""
		return err
	}},
	fieldFlag("org", "accounts.organization", func(c *config.Config) *bool { return &c.Accounts.Organization }, func(o *scanOptions) bool { return o.org }),
	{name: "ou", path: "accounts.ou", set: func(c *config.Config, o *scanOptions) error {
		c.Accounts.OU, c.Accounts.Organization = o.ou, true
		return nil
	}},
	fieldFlag("role-name", "accounts.roleName", func(c *config.Config) *string { return &c.Accounts.RoleName }, func(o *scanOptions) string { return o.roleName }),
	fieldFlag("external-id", "accounts.externalId", func(c *config.Config) *string { return &c.Accounts.ExternalID }, func(o *scanOptions) string { return o.externalID }),
	daysFlag("max-age", "rule.maxAccessKeyAge", func(c *config.Config) *config.Days { return &c.Rule.MaxAccessKeyAge }, func(o *scanOptions) int { return o.maxAge }),
	daysFlag("warn-age", "rule.warnAge", func(c *config.Config) *config.Days { return &c.Rule.WarnAge }, func(o *scanOptions) int { return o.warnAge }),
	daysFlag("deactivate-age", "lifecycle.deactivateAge", func(c *config.Config) *config.Days { return &c.Lifecycle.DeactivateAge }, func(o *scanOptions) int { return o.deactivateAge }),
	daysFlag("delete-age", "lifecycle.deleteAge", func(c *config.Config) *config.Days { return &c.Lifecycle.DeleteAge }, func(o *scanOptions) int { return o.deleteAge }),
	daysFlag("unused-age", "lifecycle.unusedAge", func(c *config.Config) *config.Days { return &c.Lifecycle.UnusedAge }, func(o *scanOptions) int { return o.unusedAge }),
	daysFlag("never-used-age", "lifecycle.neverUsedAge", func(c *config.Config) *config.Days { return &c.Lifecycle.NeverUsedAge }, func(o *scanOptions) int { return o.neverUsedAge }),
	fieldFlag("source", "scan.source", func(c *config.Config) *config.Source { return &c.Scan.Source }, func(o *scanOptions) config.Source { return config.Source(o.source) }),
	fieldFlag("with-tags", "scan.withTags", func(c *config.Config) *bool { return &c.Scan.WithTags }, func(o *scanOptions) bool { return o.withTags }),
	fieldFlag("concurrency", "scan.concurrency", func(c *config.Config) *int { return &c.Scan.Concurrency }, func(o *scanOptions) int { return o.concurrency }),
	{name: "account-timeout", path: "scan.accountTimeout", set: func(c *config.Config, o *scanOptions) error {
		d, err := config.ParseDuration(o.accountTimeout)
		c.Scan.AccountTimeout = d
		return err
	}},
	awsFlag("endpoint-url", "scan.endpointUrl", func(c *config.Config) *string { return &c.Scan.EndpointURL }, func(o *scanOptions) string { return o.endpointURL }),
	awsFlag("region", "scan.region", func(c *config.Config) *string { return &c.Scan.Region }, func(o *scanOptions) string { return o.region }),
}

// applyFlags writes the flags given in o over cfg and validates the result
// with config.Validate. A problem with a value that came from a flag names
// the flag (--concurrency: 0: must be between 1 and 1024); one with a value
// from the file keeps its file, line and YAML path. All problems are
// reported at once.
func applyFlags(cfg *config.Config, o *scanOptions, changed func(string) bool, flags []configFlag) error {
	var problems []error
	var applied, unparsed []configFlag
	for _, f := range flags {
		given := changed(f.name)
		if f.given != nil {
			given = f.given(o)
		}
		if !given {
			continue
		}
		if err := f.set(cfg, o); err != nil {
			errs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap() // one line, naming the flag, per problem
			}
			for _, e := range errs {
				problems = append(problems, fmt.Errorf("--%s: %w", f.name, e))
			}
			unparsed = append(unparsed, f)
			continue
		}
		applied = append(applied, f)
	}
	if err := cfg.Validate(); err != nil {
		problems = append(problems, nameFlags(err, applied, unparsed)...)
	}
	if len(problems) > 0 {
		return usageError(errors.Join(problems...))
	}
	return nil
}

// nameFlags splits a joined config.Validate error into its problems and
// rewrites each whose YAML path a flag in applied wrote, so that it names the
// flag instead. Problems at the path of a flag in unparsed are left out: the
// flag's own error says what is wrong, and the field holds no value of the
// user's.
func nameFlags(err error, applied, unparsed []configFlag) []error {
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range joined.Unwrap() {
		var ce *config.Error
		if errors.As(e, &ce) {
			if _, ok := flagFor(ce.Path, unparsed); ok {
				continue
			}
			if f, ok := flagFor(ce.Path, applied); ok {
				e = fmt.Errorf("--%s: %s", f.name, ce.Msg)
			}
		}
		out = append(out, e)
	}
	return out
}

// flagFor returns the flag that wrote path or a field or element inside it.
func flagFor(path string, flags []configFlag) (configFlag, bool) {
	for _, f := range flags {
		if path == f.path || strings.HasPrefix(path, f.path+".") || strings.HasPrefix(path, f.path+"[") {
			return f, true
		}
	}
	return configFlag{}, false
}
