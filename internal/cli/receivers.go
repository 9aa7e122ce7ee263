package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyage/keyage/internal/awsenv"
	"github.com/keyage/keyage/internal/config"
	"github.com/keyage/keyage/internal/notify"
	"github.com/keyage/keyage/internal/notify/receivers"
)

func newReceiversCmd(ios *IO) *cobra.Command {
	cmd := &cobra.Command{Use: "receivers", Short: "Work with the config's notification receivers"}
	var configPath, endpointURL, region, profile string
	test := &cobra.Command{
		Use:   "test NAME",
		Short: "Send a test message to one receiver",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runReceiversTest(cmd.Context(), ios, configPath, args[0], awsenv.Options{EndpointURL: endpointURL, Region: region, Profile: profile})
		},
	}
	test.Flags().StringVar(&configPath, "config", "", "YAML config file (default ./keyage.yaml when it exists)")
	addAWSFlags(test.Flags(), &endpointURL, &region, &profile)
	cmd.AddCommand(test)
	return cmd
}

func runReceiversTest(ctx context.Context, ios *IO, configPath, name string, env awsenv.Options) error {
	cfg, err := loadConfig(configPath)
	if err != nil {
		return usageError(err)
	}
	rcv, ok := cfg.Receiver(name)
	if !ok {
		var names []string
		for _, r := range cfg.Receivers {
			names = append(names, r.Name)
		}
		return usageError(fmt.Errorf("no receiver named %q (have: %v)", name, names))
	}
	one := *cfg
	one.Receivers = cfg.Receivers[:0:0]
	one.Receivers = append(one.Receivers, *rcv)
	base, err := awsenv.Load(ctx, env)
	if err != nil {
		return err
	}
	notifiers, err := receivers.Build(&one, receivers.Env{AWS: base, Stdout: ios.Out, Version: version()})
	if err != nil {
		return usageError(err)
	}
	msg := notify.Message{ID: fmt.Sprintf("test-%d", time.Now().UnixNano()), Kind: notify.KindTest, Receiver: name, GroupKey: "test",
		Subject: "keyage test notification", Text: "This is a test notification from keyage: receiver " + name + " works.", CreatedAt: time.Now().UTC()}
	if rcv.Email != nil {
		for _, to := range rcv.Email.To {
			if !config.IsTemplate(to) {
				msg.Recipients = append(msg.Recipients, to)
			}
		}
		if len(msg.Recipients) == 0 {
			return usageError(fmt.Errorf("receiver %s sends to owners only (%v): a test message has no owner; add a fixed address to its to: list", name, rcv.Email.To))
		}
	}
	tctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.Remediation.TimeoutSeconds)*time.Second)
	defer cancel()
	if _, err := notifiers[name].Notify(tctx, msg); err != nil {
		return fmt.Errorf("receiver %s (%s): %w", name, rcv.Kind(), err)
	}
	fmt.Fprintf(ios.Out, "sent a test message to %s (%s)\n", name, rcv.Kind())
	return nil
}
