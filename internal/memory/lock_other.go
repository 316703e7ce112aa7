//go:build !unix

package memory

import "errors"

func lockDaemon(string) (func(), error) {
	return nil, errors.New("restore needs the daemon lock, which this system does not support; copy the backup over the database by hand while mai serve is stopped")
}
