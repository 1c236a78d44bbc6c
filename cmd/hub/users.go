package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/lothub/lothub/access"
	"github.com/lothub/lothub/core"
)

// hub user and hub token: the people who use hub serve's API and web UI,
// their roles and their API tokens (docs/security.md). Passwords are read
// from stdin (--password-stdin) or a prompt that does not echo, never from
// a flag: a flag shows in ps and the shell's history.

func (a *app) withUsers(cmd *cobra.Command, fn func(u *access.Users, s core.Store) error) error {
	return a.withStore(cmd.Context(), func(s core.Store) error {
		return fn(&access.Users{Store: s}, s)
	})
}

// readPassword reads a new password: the first line of stdin with
// fromStdin, else from the terminal twice without echo.
func (a *app) readPassword(fromStdin bool, who string) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(a.stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			return "", fmt.Errorf("read the password from stdin: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", core.Errorf(core.EINVALID, "no password on stdin: pipe it in (printf '%%s\\n' \"$PW\" | hub user …) or leave out --password-stdin to be asked")
		}
		return pw, nil
	}
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", usageError{fmt.Errorf("no terminal to ask the password of %s in: give --password-stdin and the password on stdin", who)}
	}
	fmt.Fprintf(a.stderr, "Password for %s (at least %d characters): ", who, access.MinPasswordLength)
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	fmt.Fprintf(a.stderr, "Again: ")
	again, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(a.stderr)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	if string(pw) != string(again) {
		return "", core.Errorf(core.EINVALID, "the two passwords differ: nothing was changed")
	}
	return string(pw), nil
}

func (a *app) userCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user add|list|passwd|disable",
		Short: "Users of hub serve's API and web UI, and their roles",
		Long: `Users sign in to the web UI with a password, or use the API with a token
(hub token create). A role says what a user may do:

  viewer      reads: traces, recalls, lots, gaps, holds, runs, reports
  quality     viewer, and places/releases holds, decides gaps, approves reports
  integrator  viewer, and ingests events, manages connectors and cursors
  admin       everything, and manages users and tokens

See docs/security.md.`,
	}
	var role, fullName string
	var pwStdin, noPassword bool
	add := &cobra.Command{
		Use:   "add NAME --role viewer|quality|integrator|admin",
		Short: "Add a user; asks for its password (or reads it with --password-stdin)",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pwStdin && noPassword {
				return usageError{fmt.Errorf("--password-stdin and --no-password: give one")}
			}
			r, err := core.ParseRole(role)
			if role == "" {
				err = fmt.Errorf("give the user a role: viewer, quality, integrator or admin")
			}
			if err != nil {
				return usageError{fmt.Errorf("--role: %w", err)}
			}
			pw := ""
			if !noPassword {
				if pw, err = a.readPassword(pwStdin, args[0]); err != nil {
					return err
				}
			}
			return a.withUsers(cmd, func(u *access.Users, _ core.Store) error {
				usr, err := u.Add(cmd.Context(), args[0], fullName, r, pw)
				if err != nil {
					return err
				}
				how := "signs in with its password"
				if pw == "" {
					how = "has no password: give it a token (hub token create --user " + usr.Name + ")"
				}
				fmt.Fprintf(a.stdout, "added user %s (%s); it %s\n", usr.Name, usr.Role, how)
				return nil
			})
		},
	}
	add.Flags().StringVar(&role, "role", "", "viewer, quality, integrator or admin (required)")
	add.Flags().StringVar(&fullName, "full-name", "", "the person's name, as lists show it")
	add.Flags().BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of stdin instead of asking")
	add.Flags().BoolVar(&noPassword, "no-password", false, "no password: the user works with API tokens only (a system, not a person)")

	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List the users",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withUsers(cmd, func(_ *access.Users, s core.Store) error {
				us, err := s.Users(cmd.Context())
				if err != nil {
					return err
				}
				if us == nil {
					us = []core.User{}
				}
				if asJSON {
					return writeJSON(a.stdout, map[string]any{"users": us})
				}
				if len(us) == 0 {
					fmt.Fprintln(a.stdout, "no users (hub user add NAME --role ROLE adds one)")
					return nil
				}
				t := newTable(a.stdout, "NAME", "ROLE", "FULL NAME", "CREATED", "STATUS")
				for _, u := range us {
					status := "active"
					if !u.Active() {
						status = "disabled " + u.Disabled.Format(time.DateOnly)
					}
					t.row(u.Name, string(u.Role), orDash(u.FullName), u.Created.Format(time.DateOnly), status)
				}
				t.flush()
				return nil
			})
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, `print {"users": [...]}`)

	var passwdStdin bool
	passwd := &cobra.Command{
		Use:   "passwd NAME",
		Short: "Give a user a new password; its web sessions end",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withUsers(cmd, func(u *access.Users, s core.Store) error {
				if _, err := s.User(cmd.Context(), args[0]); err != nil {
					return err // before asking for a password of no one
				}
				pw, err := a.readPassword(passwdStdin, args[0])
				if err != nil {
					return err
				}
				if err := u.SetPassword(cmd.Context(), args[0], pw); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%s: password changed; its web sessions have ended\n", args[0])
				return nil
			})
		},
	}
	passwd.Flags().BoolVar(&passwdStdin, "password-stdin", false, "read the password from the first line of stdin instead of asking")

	disable := &cobra.Command{
		Use:   "disable NAME",
		Short: "Disable a user: its tokens and web sessions stop working at once",
		Args:  exactArgs(1, "NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withUsers(cmd, func(u *access.Users, _ core.Store) error {
				if err := u.Disable(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "%s: disabled; its tokens and sessions are refused\n", args[0])
				return nil
			})
		},
	}
	cmd.AddCommand(add, list, passwd, disable)
	return cmd
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// tokenView is a token as hub token create --json prints it: the token
// itself only then.
type tokenView struct {
	core.APIToken
	Token string `json:"token,omitempty"`
}

func (a *app) tokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token create|list|revoke",
		Short: "API tokens of users (Authorization: Bearer TOKEN)",
		Long: `A token acts with its user's role. It is shown once, when created; the hub
keeps only its SHA-256 hash. See docs/security.md.`,
	}
	var user, label, expires string
	var createJSON bool
	create := &cobra.Command{
		Use:   "create --user NAME [--label TEXT] [--expires 90d|2027-01-01]",
		Short: "Create a token for a user and print it, this once",
		Args:  exactArgs(0, "no arguments (the user is --user NAME)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if user == "" {
				return usageError{fmt.Errorf("give the user the token acts as: --user NAME")}
			}
			exp, err := access.ParseExpiry(expires, time.Now())
			if err != nil {
				return usageError{fmt.Errorf("--expires: %w", err)}
			}
			return a.withUsers(cmd, func(u *access.Users, _ core.Store) error {
				token, t, err := u.CreateToken(cmd.Context(), user, label, exp)
				if err != nil {
					return err
				}
				if createJSON {
					return writeJSON(a.stdout, tokenView{APIToken: t, Token: token})
				}
				until := "never expires"
				if !t.Expires.IsZero() {
					until = "expires " + t.Expires.Format(time.RFC3339)
				}
				fmt.Fprintf(a.stdout, "%s\n", token)
				fmt.Fprintf(a.stderr, "token %s for %s (%s). It is shown this once: store it now (hub token revoke %s ends it).\n", t.ID, t.User, until, t.ID)
				return nil
			})
		},
	}
	create.Flags().StringVar(&user, "user", "", "the user the token acts as (required)")
	create.Flags().StringVar(&label, "label", "", "what the token is for (a scanner, a script), as lists show it")
	create.Flags().StringVar(&expires, "expires", "", "when it stops working: days (90d), a duration (36h), a date (2027-01-01) or never (the default)")
	create.Flags().BoolVar(&createJSON, "json", false, "print the token and its details as JSON")

	var listUser string
	var listJSON bool
	list := &cobra.Command{
		Use:   "list [--user NAME]",
		Short: "List tokens (never the tokens themselves)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.withUsers(cmd, func(_ *access.Users, s core.Store) error {
				ts, err := s.Tokens(cmd.Context(), core.TokenFilter{User: listUser})
				if err != nil {
					return err
				}
				if ts == nil {
					ts = []core.APIToken{}
				}
				if listJSON {
					return writeJSON(a.stdout, map[string]any{"tokens": ts})
				}
				if len(ts) == 0 {
					fmt.Fprintln(a.stdout, "no tokens (hub token create --user NAME makes one)")
					return nil
				}
				now := time.Now()
				t := newTable(a.stdout, "ID", "USER", "LABEL", "CREATED", "EXPIRES", "LAST USED", "STATUS")
				for _, tk := range ts {
					status := "valid"
					switch {
					case !tk.Revoked.IsZero():
						status = "revoked " + tk.Revoked.Format(time.DateOnly)
					case !tk.Valid(now):
						status = "expired"
					}
					t.row(tk.ID, tk.User, orDash(tk.Label), tk.Created.Format(time.DateOnly), day(tk.Expires, "never"), day(tk.LastUsed, "never"), status)
				}
				t.flush()
				return nil
			})
		},
	}
	list.Flags().StringVar(&listUser, "user", "", "only this user's tokens")
	list.Flags().BoolVar(&listJSON, "json", false, `print {"tokens": [...]}`)

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token: it stops working at once",
		Args:  exactArgs(1, "ID (hub token list shows them)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.withUsers(cmd, func(u *access.Users, _ core.Store) error {
				if err := u.Revoke(cmd.Context(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(a.stdout, "token %s revoked\n", args[0])
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func day(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.Format(time.DateOnly)
}
