//go:build !unix

package runtimetune

import "errors"

func execve(string, []string, []string) error {
	return errors.New("re-executing the process is not supported on this platform")
}
