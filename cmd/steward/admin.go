package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/workflows"
)

func runPartners(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("partners: add, list or disable")
	}
	sub, rest := args[0], args[1:]
	f := newFlags("partners "+sub, stderr)
	var dsn string
	f.str(&dsn, "database-url", "DATABASE_URL", "", "database URL (postgres://… or sqlite:PATH)")
	var p db.Partner
	var services string
	switch sub {
	case "add":
		f.StringVar(&p.ID, "id", "", "partner id (letters, digits, '-', '_')")
		f.StringVar(&p.Name, "name", "", "company name")
		f.StringVar(&services, "services", "", "comma-separated skills: "+strings.Join(workflows.Services, ","))
		f.BoolVar(&p.Onsite, "onsite", false, "can work on site")
		f.IntVar(&p.Capacity, "capacity", 3, "open cases it can hold at once")
		f.StringVar(&p.SlackChannel, "slack-channel", "", "its Slack channel")
	case "list":
	case "disable", "enable":
		f.StringVar(&p.ID, "id", "", "partner id")
	default:
		return fmt.Errorf("partners: unknown subcommand %q (add, list, disable, enable)", sub)
	}
	if err := f.Parse(rest); err != nil {
		return err
	}
	store, err := openStore(ctx, dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	switch sub {
	case "add":
		if p.ID == "" || p.Name == "" {
			return errors.New("partners add: -id and -name are required")
		}
		for _, s := range strings.Split(services, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			if !workflows.KnownService(s) {
				return fmt.Errorf("partners add: unknown service %q", s)
			}
			p.Services = append(p.Services, s)
		}
		if len(p.Services) == 0 {
			return errors.New("partners add: -services names at least one service")
		}
		if p.Capacity < 1 {
			return errors.New("partners add: -capacity must be at least 1")
		}
		p.Active, p.CreatedAt = true, time.Now().UTC()
		if err := store.AddPartner(ctx, &p); err != nil {
			return fmt.Errorf("partners add: %w", err)
		}
		fmt.Fprintf(stdout, "partner %s added\n", p.ID)
	case "list":
		ps, err := store.ListPartners(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSERVICES\tONSITE\tCAPACITY\tSLACK\tACTIVE")
		for _, p := range ps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%d\t%s\t%t\n", p.ID, p.Name, strings.Join(p.Services, ","), p.Onsite, p.Capacity, p.SlackChannel, p.Active)
		}
		return tw.Flush()
	case "disable", "enable":
		if p.ID == "" {
			return fmt.Errorf("partners %s: -id is required", sub)
		}
		if err := store.SetPartnerActive(ctx, p.ID, sub == "enable"); err != nil {
			return fmt.Errorf("partners %s: %w", sub, err)
		}
		fmt.Fprintf(stdout, "partner %s %sd\n", p.ID, sub)
	}
	return nil
}

func runTokens(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("tokens: issue, list or revoke")
	}
	sub, rest := args[0], args[1:]
	f := newFlags("tokens "+sub, stderr)
	var dsn, role, partner, name, id string
	f.str(&dsn, "database-url", "DATABASE_URL", "", "database URL (postgres://… or sqlite:PATH)")
	switch sub {
	case "issue":
		f.StringVar(&role, "role", "partner", "partner or manager")
		f.StringVar(&partner, "partner", "", "the engineer's partner id (role partner)")
		f.StringVar(&name, "name", "", "who holds it, e.g. an engineer's handle")
	case "revoke":
		f.StringVar(&id, "id", "", "token id (tok_…)")
	case "list":
	default:
		return fmt.Errorf("tokens: unknown subcommand %q (issue, list, revoke)", sub)
	}
	if err := f.Parse(rest); err != nil {
		return err
	}
	store, err := openStore(ctx, dsn)
	if err != nil {
		return err
	}
	defer store.Close()
	switch sub {
	case "issue":
		if !slices.Contains([]string{string(db.RolePartner), string(db.RoleManager)}, role) {
			return fmt.Errorf("tokens issue: -role is partner or manager, not %q", role)
		}
		if role == string(db.RolePartner) && partner == "" {
			return errors.New("tokens issue: -partner is required for a partner token")
		}
		if role == string(db.RoleManager) && partner != "" {
			return errors.New("tokens issue: a manager token has no -partner")
		}
		if name == "" {
			return errors.New("tokens issue: -name is required")
		}
		secret, tok, err := store.IssueToken(ctx, db.Role(role), partner, name)
		if err != nil {
			return fmt.Errorf("tokens issue: %w", err)
		}
		fmt.Fprintf(stdout, "token %s issued for %s. It is shown once; store it now:\n%s\n", tok.ID, name, secret)
	case "revoke":
		if id == "" {
			return errors.New("tokens revoke: -id is required")
		}
		if err := store.RevokeToken(ctx, id); err != nil {
			return fmt.Errorf("tokens revoke: %w", err)
		}
		fmt.Fprintf(stdout, "token %s revoked\n", id)
	case "list":
		ts, err := store.ListTokens(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tPARTNER\tNAME\tCREATED\tREVOKED")
		for _, t := range ts {
			revoked := ""
			if t.RevokedAt != nil {
				revoked = t.RevokedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, t.PartnerID, t.Name, t.CreatedAt.UTC().Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	}
	return nil
}
