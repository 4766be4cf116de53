// Command cectl sends, receives and validates CloudEvents.
package main

import (
	"os"

	"github.com/cectl/cectl/cmd"
)

// Set by the release build with -ldflags "-X main.version=... -X main.commit=... -X main.date=...".
var (
	version = ""
	commit  = ""
	date    = ""
)

func main() {
	os.Exit(cmd.Main(cmd.BuildInfo{Version: version, Commit: commit, Date: date}))
}
