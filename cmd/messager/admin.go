package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/messager/messager/internal/app"
	"github.com/messager/messager/internal/storage"
)

func newAdminCmd() *cobra.Command {
	f := &runFlags{}
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Grant or revoke the admin role (the task monitor at /monitoring/) on the configured database",
		Long: "Admin is a role stored with the account, so no user can give it to themself.\n" +
			"Under `messager all` the first account registered is the admin; everywhere else an operator grants it here.",
	}
	cmd.PersistentFlags().StringVar(&f.configFile, "config", "", "MessagerConfig YAML file (env MESSAGER_CONFIG)")
	cmd.PersistentFlags().StringVar(&f.dataDir, "data-dir", "", "directory for the embedded SQLite database (env MESSAGER_DATA_DIR)")
	for _, c := range []struct {
		use, short, done string
		admin            bool
	}{
		{"grant USERNAME", "Make the account an admin", "is now an admin", true},
		{"revoke USERNAME", "Take the admin role away (effective on the next request)", "is no longer an admin", false},
	} {
		cmd.AddCommand(&cobra.Command{
			Use:   c.use,
			Short: c.short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				cfg, err := loadConfig(f)
				if err != nil {
					return err
				}
				u, err := app.SetAdmin(cmd.Context(), cfg, args[0], c.admin)
				if errors.Is(err, storage.ErrNotFound) {
					return fmt.Errorf("no account named %q", args[0])
				}
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", u.Username, c.done)
				return nil
			},
		})
	}
	return cmd
}
