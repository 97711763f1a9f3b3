package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/steward-oss/steward/db"
	"github.com/steward-oss/steward/notifications"
	"github.com/steward-oss/steward/workflows"
)

func runPartners(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("partners: add, update, list, disable or enable")
	}
	sub, rest := args[0], args[1:]
	f := newFlags("partners "+sub, stderr)
	var dsn string
	f.str(&dsn, "database-url", "DATABASE_URL", "", "database URL (postgres://… or sqlite:PATH)")
	var p db.Partner
	var services string
	switch sub {
	case "add", "update":
		f.StringVar(&p.ID, "id", "", "partner id (letters, digits, '-', '_')")
		f.StringVar(&p.Name, "name", "", "company name")
		f.StringVar(&services, "services", "", "comma-separated skills: "+strings.Join(workflows.Services, ","))
		f.BoolVar(&p.Onsite, "onsite", false, "can work on site")
		f.IntVar(&p.Capacity, "capacity", 3, "open cases it can hold at once")
		f.StringVar(&p.SlackChannel, "slack-channel", "", "its Slack channel")
		f.StringVar(&p.DingTalkWebhook, "dingtalk-webhook", "", "its DingTalk group robot's webhook (https://oapi.dingtalk.com/robot/send?access_token=…; stored sealed with $"+db.SecretKeyEnv+"; '' removes the robot)")
		f.StringVar(&p.DingTalkSecret, "dingtalk-secret", "", "the robot's signing secret (SEC…), when its security setting is signing (stored sealed)")
	case "list":
	case "disable", "enable":
		f.StringVar(&p.ID, "id", "", "partner id")
	default:
		return fmt.Errorf("partners: unknown subcommand %q (add, update, list, disable, enable)", sub)
	}
	if err := f.Parse(rest); err != nil {
		return err
	}
	set := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
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
		if p.Services, err = parseServices(services); err != nil {
			return fmt.Errorf("partners add: %w", err)
		}
		if p.Capacity < 1 {
			return errors.New("partners add: -capacity must be at least 1")
		}
		if err := checkRobot(p.DingTalkWebhook, p.DingTalkSecret); err != nil {
			return fmt.Errorf("partners add: %w", err)
		}
		p.Active, p.CreatedAt = true, time.Now().UTC()
		if err := store.AddPartner(ctx, &p); err != nil {
			return fmt.Errorf("partners add: %w", err)
		}
		fmt.Fprintf(stdout, "partner %s added\n", p.ID)
	case "update":
		return updatePartner(ctx, store, &p, services, set, stdout)
	case "list":
		ps, err := store.ListPartners(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tSERVICES\tONSITE\tCAPACITY\tSLACK\tACTIVE\tDINGTALK")
		for _, p := range ps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%d\t%s\t%t\t%s\n", p.ID, p.Name, strings.Join(p.Services, ","), p.Onsite, p.Capacity, p.SlackChannel, p.Active, robotState(&p))
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

// updatePartner changes the columns whose flags were set; an empty -dingtalk-webhook removes the robot
// and its secret.
func updatePartner(ctx context.Context, store *db.Store, p *db.Partner, services string, set map[string]bool, stdout io.Writer) error {
	if p.ID == "" {
		return errors.New("partners update: -id is required")
	}
	cur, err := store.GetPartner(ctx, p.ID)
	if err != nil {
		return fmt.Errorf("partners update: %w", err)
	}
	var cols []string
	for flagName, col := range map[string]string{"name": "name", "onsite": "onsite", "capacity": "capacity", "slack-channel": "slack_channel"} {
		if set[flagName] {
			cols = append(cols, col)
		}
	}
	if set["name"] && p.Name == "" {
		return errors.New("partners update: -name cannot be empty")
	}
	if set["capacity"] && p.Capacity < 1 {
		return errors.New("partners update: -capacity must be at least 1")
	}
	if set["services"] {
		if p.Services, err = parseServices(services); err != nil {
			return fmt.Errorf("partners update: %w", err)
		}
		cols = append(cols, "services")
	}
	switch {
	case set["dingtalk-webhook"] && p.DingTalkWebhook == "":
		if set["dingtalk-secret"] && p.DingTalkSecret != "" {
			return errors.New("partners update: -dingtalk-secret without a -dingtalk-webhook")
		}
		p.DingTalkSecret = ""
		cols = append(cols, "dingtalk_webhook", "dingtalk_secret")
	case set["dingtalk-webhook"]:
		if err := checkRobot(p.DingTalkWebhook, p.DingTalkSecret); err != nil {
			return fmt.Errorf("partners update: %w", err)
		}
		// A new robot comes with its own secret, or none: an old secret would only fail its signatures.
		cols = append(cols, "dingtalk_webhook", "dingtalk_secret")
	case set["dingtalk-secret"]:
		if !cur.HasDingTalkRobot() {
			return errors.New("partners update: -dingtalk-secret for a partner without a robot (give -dingtalk-webhook too)")
		}
		cols = append(cols, "dingtalk_secret")
	}
	if len(cols) == 0 {
		return errors.New("partners update: nothing to change (give -name, -services, -onsite, -capacity, -slack-channel, -dingtalk-webhook or -dingtalk-secret)")
	}
	slices.Sort(cols)
	if err := store.UpdatePartner(ctx, p, cols...); err != nil {
		return fmt.Errorf("partners update: %w", err)
	}
	fmt.Fprintf(stdout, "partner %s updated: %s\n", p.ID, strings.Join(cols, ", "))
	return nil
}

// parseServices reads a comma-separated list of known services, at least one.
func parseServices(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !workflows.KnownService(s) {
			return nil, fmt.Errorf("unknown service %q", s)
		}
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, errors.New("-services names at least one service")
	}
	return out, nil
}

// checkRobot validates a robot given on the command line; its errors never repeat the webhook or secret.
func checkRobot(webhook, secret string) error {
	if webhook == "" {
		if secret != "" {
			return errors.New("-dingtalk-secret without a -dingtalk-webhook")
		}
		return nil
	}
	return notifications.Robot{Webhook: webhook, Secret: secret}.Validate()
}

// robotState says whether a partner has a DingTalk robot, never which.
func robotState(p *db.Partner) string {
	switch {
	case !p.HasDingTalkRobot():
		return "-"
	case p.DingTalkSecret != "":
		return "robot (signed)"
	default:
		return "robot"
	}
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
