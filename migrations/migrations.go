// Package migrations embeds Mai's numbered SQL migrations. Files are named
// NNNN_description.sql and applied in order by internal/store; an applied
// file must never change — add a new one instead.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
