package main

import "github.com/spf13/cobra"

func (a *app) genCommand() *cobra.Command {
	return &cobra.Command{Use: "gen", Short: "Generate a synthetic plant", Hidden: true}
}
