package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/config"
)

func (a *app) configCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Check the hub configuration file",
	}
	check := &cobra.Command{
		Use:   "check [FILE]",
		Short: "Check a configuration file: keys, schedules, and that every secret it references resolves",
		Long: `Reads FILE (default: --config, $HUB_CONFIG or ./hub.yaml) as hub serve does:
strict keys, cron schedules, mappings named, secrets written as references,
and every ${env:NAME} and ${file:/path} reference resolved. Each problem is
printed as file:line:col; exit status 2 when there is one. Secrets are
never printed.`,
		Args: maxArgs(1, "at most one configuration file"),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, _ := a.configPath()
			if len(args) == 1 {
				path = args[0]
			}
			h, err := config.Load(path)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "%s: ok: %d connector(s), %d intake token(s), %d notifier(s); every secret resolves\n",
				path, len(h.Connectors), len(h.Intake.Tokens), len(h.Notifiers))
			return nil
		},
	}
	cmd.AddCommand(check)
	return cmd
}
