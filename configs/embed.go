// Package configs holds the experiment configs and compiles them into the
// runner, so `runner` with no -config runs quick.yaml from any folder.
package configs

import "embed"

// FS holds every config under this folder.
//
//go:embed *.yaml experiments/*.yaml
var FS embed.FS

// Default is the config the runner uses when no -config is given.
const Default = "quick.yaml"
