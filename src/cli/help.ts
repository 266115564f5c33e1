/** The usage texts, one per command, printed by `--help` (and, shortened, after a usage error). */

export const MAIN_HELP = `Usage: dockyard <command> [options]

An OCI / Docker v2 container registry with durable event notifications.

Commands:
  serve [config.yml]             run the registry
  gc [options] [config.yml]      remove blobs no manifest references (garbage collection)
  config check [config.yml]      validate a configuration and print it, secrets masked
  health [options] [config.yml]  ask the running registry whether it is ready (exit 0) or not (1)
  help [command]                 show the help of a command

Options:
  -h, --help                     show this help
  -v, --version                  print the version

The configuration file may also be named by REGISTRY_CONFIGURATION_PATH; REGISTRY_* variables
override its keys, as in CNCF Distribution. "dockyard config.yml" (no command) is "dockyard serve config.yml".
`;

export const SERVE_HELP = `Usage: dockyard serve [config.yml]

Runs the registry. Without a file (and without REGISTRY_CONFIGURATION_PATH) it serves on
127.0.0.1:5000 with its data in ./data.

SIGTERM or SIGINT stops it: it stops accepting connections, lets requests in flight finish for up
to http.draintimeout (10s), commits the notification outbox and exits 0. A second signal cuts the
remaining connections at once.

Options:
  -h, --help                     show this help
`;

export const GC_HELP = `Usage: dockyard gc [options] [config.yml]

Marks every blob that a manifest of any repository references and removes the others, as
Distribution's "registry garbage-collect" does.

Options:
  -d, --dry-run                  report what would be removed; remove nothing
  -m, --delete-untagged          also remove manifests that no tag references
  -h, --help                     show this help
`;

export const CONFIG_HELP = `Usage: dockyard config check [options] [config.yml]

Loads the configuration as "serve" would (file, then REGISTRY_* variables), reports every problem
and exits 2 if there is one; otherwise prints the effective configuration with every default filled
in and secrets masked (durations in milliseconds), and exits 0.

Options:
  -f, --format <yaml|json>       output format (default yaml)
  -q, --quiet                    print nothing when the configuration is valid
  -h, --help                     show this help
`;

export const HEALTH_HELP = `Usage: dockyard health [options] [config.yml]

Asks the registry of this configuration, on this host, for GET /readyz (storage, outbox and
notification threads up) and prints one line: exit 0 on a 200, 1 otherwise (no answer within
2.5 s, a refused connection, a 503). It connects to http.addr (a wildcard address on loopback),
over HTTPS when http.tls is set: real TLS, without verifying the certificate, whose name is the
server's public one. Docker's HEALTHCHECK in our image runs it.

Options:
  -l, --live                     ask GET /healthz instead (the process answers)
      --cert <file>              a client certificate (PEM) for a server with http.tls.clientcas
      --key <file>               its private key (PEM)
  -h, --help                     show this help
`;

export const HELP_BY_COMMAND: Record<string, string> = {
  serve: SERVE_HELP,
  gc: GC_HELP,
  'garbage-collect': GC_HELP,
  config: CONFIG_HELP,
  health: HEALTH_HELP,
};
