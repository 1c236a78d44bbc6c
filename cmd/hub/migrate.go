package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lothub/lothub/core"
)

func (a *app) migrateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema",
		Long: `Applies the embedded, numbered schema migrations the database does not have
yet. Every command does this at start too; run it on its own to upgrade a
shared PostgreSQL database at a time of your choosing. A database newer than
this hub is refused.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withStore(cmd.Context(), func(s core.Store) error {
				v, err := s.SchemaVersion(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "schema version %d\n", v)
				return nil
			})
		},
	}
}
