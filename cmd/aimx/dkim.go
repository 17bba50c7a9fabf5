package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
	"github.com/aimx-dev/aimx/internal/dnsresolver"
)

// dkimRecord is what `aimx dkim-keygen --json` prints.
type dkimRecord struct {
	Domain     string `json:"domain"`
	Algorithm  string `json:"algorithm"`
	Selector   string `json:"selector"`
	PrivateKey string `json:"private_key"`
	PublicKey  string `json:"public_key"`
	RecordName string `json:"record_name"`
	RecordType string `json:"record_type"`
	Record     string `json:"record_value"`
	// Created is false when an existing key was kept and its record
	// printed again.
	Created bool `json:"created"`
	// Published compares the record in DNS with the key: match, missing,
	// mismatch or unknown.
	Published       string `json:"published"`
	PublishedDetail string `json:"published_detail"`
}

// checkPublished looks the key's record up through the config's resolver.
func (a *app) checkPublished(cfg *domains.Config, d, selector string, key *dkimkey.Key) (string, string) {
	res, err := dnsresolver.New(dnsresolver.Config{Servers: cfg.DNS.Servers})
	if err != nil {
		return string(dkimkey.PublishedUnknown), err.Error()
	}
	ctx, cancel := context.WithTimeout(a.ctx, 10*time.Second)
	defer cancel()
	state, detail := dkimkey.CheckPublished(ctx, res.LookupTXT, d, selector, key.Public())
	return string(state), detail
}

func (a *app) dkimKeygenCommand() *cobra.Command {
	var domain, selector, algorithm string
	var force bool
	cmd := &cobra.Command{
		Use:   "dkim-keygen",
		Short: "Generate a domain's DKIM key and print the DNS record that publishes it",
		Long: "Generate the DKIM key pair of a configured domain under <config dir>/dkim/<domain>/\n" +
			"and print the TXT record to publish. An existing key is kept and its record printed again;\n" +
			"--force replaces it. The published record is then looked up and compared with the key.\n" +
			"A running daemon loads a new key at aimx reload.",
		Args: exactArgs(0),
		RunE: func(*cobra.Command, []string) error {
			alg, err := dkimkey.ParseAlgorithm(algorithm)
			if err != nil {
				return usageError{err}
			}
			cfg, paths, err := a.loadConfig()
			if err != nil {
				return err
			}
			d := cfg.DefaultDomain()
			if domain != "" {
				if d, err = domains.NormalizeDomain(domain); err != nil {
					return usageError{fmt.Errorf("--domain: %w", err)}
				}
				if !cfg.HasDomain(d) {
					return fmt.Errorf("domain %s is not configured: add it to `domains` in %s first", d, paths.ConfigFile())
				}
			}
			if selector == "" {
				selector = cfg.EffectiveForDomain(d).DKIMSelector
			}
			store := dkimkey.NewStore(paths.ConfigDir)
			verb := "Wrote"
			key, err := store.Load(d, alg)
			switch {
			case err == nil && !force:
				verb = "Kept the existing" // reprint its record (book/cli.md)
			case err == nil || errors.Is(err, dkimkey.ErrNoKey):
				if key, err = store.Generate(d, alg, force); err != nil {
					return err
				}
			default:
				return fmt.Errorf("%w (pass --force to replace it)", err)
			}
			if verb == "Wrote" && storageEnv(a.env, cfg).Storage.IsPostgres() {
				// Every node signs with the database's key (book/scale-out.md).
				if err := a.shareKeys(cfg, store, d); err != nil {
					return err
				}
			}
			name, value, err := dkimkey.TXTRecord(d, selector, key.Public())
			if err != nil {
				return err
			}
			rec := dkimRecord{Domain: d, Algorithm: string(alg), Selector: selector, PrivateKey: key.PrivatePath,
				PublicKey: key.PublicPath, RecordName: name, RecordType: "TXT", Record: value, Created: verb == "Wrote"}
			rec.Published, rec.PublishedDetail = a.checkPublished(cfg, d, selector, key)
			if a.json {
				return a.printJSON(rec)
			}
			_, err = fmt.Fprintf(a.stdout, "%s %s DKIM key for %s:\n  %s\n  %s\n\nPublish this DNS record:\n\n%s TXT \"%s\"\n\nIn DNS now: %s (%s)\n",
				verb, alg, d, key.PrivatePath, key.PublicPath, name, value, rec.Published, rec.PublishedDetail)
			if err == nil && rec.Created {
				_, err = fmt.Fprintln(a.stdout, "A running daemon signs with it after: aimx reload")
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&domain, "domain", "", "configured domain to generate the key for (default: the default domain)")
	f.StringVar(&selector, "selector", "", "DKIM selector to print the record for (default: the domain's effective dkim_selector)")
	f.StringVar(&algorithm, "algorithm", "rsa", "key algorithm: rsa or ed25519")
	f.BoolVar(&force, "force", false, "replace an existing key")
	return cmd
}
