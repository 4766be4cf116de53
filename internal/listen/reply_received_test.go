package listen

import (
	"strings"
	"testing"
	"time"

	"github.com/cectl/cectl/internal/ce"
)

func TestRepliesFromARecordLeaveTheReceiveTimeOut(t *testing.T) {
	rs, err := LoadReplies(strings.NewReader(`{"specversion":"1.0","id":"1","source":"/a","type":"t","region":"eu","cectlreceivedtime":"2026-01-01T00:00:00Z"}` + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := rs.Next(time.Now())
	if _, has := e.Extensions()[ce.ReceivedExtension]; has {
		t.Errorf("the reply carries the record's receive time: %v", e.Extensions())
	}
	if e.Extensions()["region"] != "eu" {
		t.Errorf("other extensions lost: %v", e.Extensions())
	}
}
