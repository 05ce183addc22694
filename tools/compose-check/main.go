// Command compose-check loads a Compose file the way Docker Compose does, with the same library
// (github.com/compose-spec/compose-go/v2): interpolation, validation against the Compose specification's JSON
// schema, and the consistency checks (depends_on, volumes, configs...). No Docker engine is needed.
//
//	compose-check [--profile NAME]... [--env-file FILE]... COMPOSE_FILE
//	compose-check --schema
//
// On success it prints the resolved project as JSON (what `docker compose config --format json` prints); on a bad
// file, or a required variable left unset, it prints the loader's error to stderr and exits 1. Variables come from
// its own environment and the --env-file files only: unlike Docker Compose it never reads a .env file by itself,
// so the same command gives the same answer wherever it runs. --schema prints the JSON schema it validates against.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/schema"
)

type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func main() {
	var profiles, envFiles repeated
	printSchema := flag.Bool("schema", false, "print the Compose specification JSON schema the loader validates against")
	flag.Var(&profiles, "profile", "enable a profile (repeatable)")
	flag.Var(&envFiles, "env-file", "read variables from this file too (repeatable)")
	flag.Parse()

	if *printSchema {
		fmt.Print(schema.Schema)
		return
	}
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: compose-check [--profile NAME]... [--env-file FILE]... COMPOSE_FILE | --schema")
		os.Exit(2)
	}
	out, err := load(flag.Arg(0), profiles, envFiles)
	if err != nil {
		fmt.Fprintf(os.Stderr, "compose-check: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}

func load(file string, profiles, envFiles []string) ([]byte, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	settings := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(filepath.Dir(abs)),
		cli.WithOsEnv,
		cli.WithProfiles(profiles),
		cli.WithInterpolation(true),
		cli.WithNormalization(true),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	}
	// Given no files, WithEnvFiles would fall back to the project's .env, which this command promises not to read.
	if len(envFiles) > 0 {
		settings = append(settings, cli.WithEnvFiles(envFiles...), cli.WithDotEnv)
	}
	options, err := cli.NewProjectOptions([]string{abs}, settings...)
	if err != nil {
		return nil, err
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return nil, err
	}
	return project.MarshalJSON()
}
