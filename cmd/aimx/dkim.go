package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/aimx-dev/aimx/domains"
	"github.com/aimx-dev/aimx/domains/dkimkey"
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
}

func (a *app) dkimKeygenCommand() *cobra.Command {
	var domain, selector, algorithm string
	var force bool
	cmd := &cobra.Command{
		Use:   "dkim-keygen",
		Short: "Generate a domain's DKIM key and print the DNS record that publishes it",
		Long: "Generate the DKIM key pair of a configured domain under <config dir>/dkim/<domain>/\n" +
			"and print the TXT record to publish. Refuses to replace an existing key without --force.",
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
			key, err := store.Generate(d, alg, force)
			if err != nil {
				return err
			}
			name, value, err := dkimkey.TXTRecord(d, selector, key.Public())
			if err != nil {
				return err
			}
			rec := dkimRecord{Domain: d, Algorithm: string(alg), Selector: selector, PrivateKey: key.PrivatePath,
				PublicKey: key.PublicPath, RecordName: name, RecordType: "TXT", Record: value}
			if a.json {
				return a.printJSON(rec)
			}
			_, err = fmt.Fprintf(a.stdout, "Wrote %s DKIM key for %s:\n  %s\n  %s\n\nPublish this DNS record:\n\n%s TXT \"%s\"\n",
				alg, d, key.PrivatePath, key.PublicPath, name, value)
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
