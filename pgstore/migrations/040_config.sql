-- The shared configuration (book/scale-out.md, "Configuration across
-- nodes"): every change is a new version of one TOML document, the shared
-- part of config.toml; the current config is the highest version. Writers
-- lock the table (SHARE ROW EXCLUSIVE) so changes apply one at a time;
-- readers are never blocked.
CREATE TABLE aimx.config (
	version bigint PRIMARY KEY CHECK (version > 0),
	toml text NOT NULL CHECK (octet_length(toml) <= 16777216),
	updated_at timestamptz NOT NULL DEFAULT now(),
	updated_by text NOT NULL
);

-- The DKIM private keys of the served domains, one per domain and
-- algorithm, so every node signs with the key the domain's DNS record
-- publishes. The selector is configuration (dkim_selector), not key data.
-- This table is as secret as /etc/aimx/dkim.
CREATE TABLE aimx.dkim_keys (
	domain text NOT NULL CHECK (octet_length(domain) <= 253),
	algorithm text NOT NULL CHECK (algorithm IN ('rsa', 'ed25519')),
	private_pem text NOT NULL CHECK (octet_length(private_pem) <= 65536),
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by text NOT NULL,
	PRIMARY KEY (domain, algorithm)
);
