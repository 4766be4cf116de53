// Command genman writes cectl's man pages into the directory named by its argument.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cectl/cectl/cmd"
	"github.com/spf13/cobra/doc"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genman DIR")
		os.Exit(2)
	}
	f := &cmd.Factory{
		IO:     &cmd.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: os.Stderr},
		Getenv: func(string) string { return "" },
		Output: "text",
	}
	root := cmd.NewCmdRoot(f)
	root.DisableAutoGenTag = true
	header := &doc.GenManHeader{Title: "CECTL", Section: "1", Source: "cectl"}
	if err := doc.GenManTree(root, header, os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "genman:", err)
		os.Exit(1)
	}
}
