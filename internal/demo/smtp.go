package demo

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-smtp"
)

var errNoSMTP = errors.New("demo: SMTP server did not answer")

func dialSMTP(addr string) (*smtp.Client, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errNoSMTP, err)
	}
	return smtp.NewClient(conn), nil
}
