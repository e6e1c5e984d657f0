package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/iomux/iomux"
)

// runIomux runs "iomux args..." in-process; it suits what prints through
// run's writers (help, usage errors), not the programs' own output.
func runIomux(args ...string) (code int, stdout, stderr string) {
	var out, errs strings.Builder
	code = run(args, &out, &errs)
	return code, out.String(), errs.String()
}

// verbosePrograms are the programs with -v (the tutorials' servers and clients).
var verbosePrograms = []string{"echo-server", "chat-server", "log-server", "time-server",
	"echo-client", "slow-client", "chat-client", "watch"}

// Every way of asking for a program's help prints the same text, with its
// flags and their defaults, to stdout, and exits 0.
func TestHelpIsTheSameEveryWay(t *testing.T) {
	for _, c := range programs() {
		name := c.name
		t.Run(name, func(t *testing.T) {
			ways := [][]string{{name, "--help"}, {name, "-h"}, {"help", name}}
			if slices.Contains(verbosePrograms, name) {
				ways = append(ways, []string{name, "-v", "--help"})
			}
			var first string
			for i, args := range ways {
				code, out, errs := runIomux(args...)
				if code != 0 || errs != "" {
					t.Fatalf("iomux %s: exit %d, stderr %q; want 0 and nothing", strings.Join(args, " "), code, errs)
				}
				if !strings.HasPrefix(out, "Usage: iomux ") {
					t.Errorf("iomux %s printed %.60q..., want the usage text", strings.Join(args, " "), out)
				}
				if i == 0 {
					first = out
				} else if out != first {
					t.Errorf("iomux %s printed\n%s\nwhere iomux %s printed\n%s", strings.Join(args, " "), out, strings.Join(ways[0], " "), first)
				}
			}
			if slices.Contains(verbosePrograms, name) {
				for _, want := range []string{"\nFlags:\n", "  -addr ", "(default \"127.0.0.1:", "  -backend ", "  -v\t"} {
					if !strings.Contains(first, want) {
						t.Errorf("help lacks %q:\n%s", want, first)
					}
				}
			}
		})
	}
}

// A mistake on the command line gets one line and a pointer to --help,
// not the whole usage text, and exit status 2.
func TestUsageErrorsAreShort(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"echo-client", "--nosuch"}, "iomux echo-client: flag provided but not defined: -nosuch\nRun 'iomux echo-client --help' for usage.\n"},
		{[]string{"chat-server", "--addr"}, "iomux chat-server: flag needs an argument: -addr\nRun 'iomux chat-server --help' for usage.\n"},
		{[]string{"time-server", "--interval", "0s"}, "iomux time-server: --interval must be positive\nRun 'iomux time-server --help' for usage.\n"},
		{[]string{"watch", "extra"}, "iomux watch: unexpected arguments [\"extra\"]\nRun 'iomux watch --help' for usage.\n"},
		{[]string{"version", "extra"}, "iomux version: unexpected arguments [\"extra\"]\nRun 'iomux version --help' for usage.\n"},
		{[]string{"nosuch"}, "iomux: unknown program \"nosuch\"; run 'iomux help' for the list\n"},
		{[]string{"help", "nosuch"}, "iomux: unknown program \"nosuch\"; run 'iomux help' for the list\n"},
	} {
		code, out, errs := runIomux(tc.args...)
		if code != 2 || out != "" || errs != tc.want {
			t.Errorf("iomux %s: exit %d, stdout %q, stderr\n%q\nwant 2, nothing, and\n%q", strings.Join(tc.args, " "), code, out, errs, tc.want)
		}
	}
}

// Every program has a name of its own, a summary, a usage text and a run
// function, and the list is in the help's order: by name.
func TestProgramsList(t *testing.T) {
	var names []string
	for _, c := range programs() {
		if c.summary == "" || !strings.HasPrefix(c.usage, "Usage: iomux "+c.name) || c.run == nil {
			t.Errorf("program %q: summary %q, usage %.40q, run set %v", c.name, c.summary, c.usage, c.run != nil)
		}
		if slices.Contains(names, c.name) {
			t.Errorf("two programs are called %s", c.name)
		}
		names = append(names, c.name)
	}
	if !slices.IsSorted(names) {
		t.Errorf("programs() lists %v, want them by name", names)
	}
}

func TestHelpListsPrograms(t *testing.T) {
	code, out, errs := runIomux("help")
	if code != 0 || errs != "" {
		t.Fatalf("iomux help: exit %d, stderr %q", code, errs)
	}
	for _, c := range programs() {
		if !strings.Contains(out, "\n  "+c.name+" ") {
			t.Errorf("iomux help does not list %s:\n%s", c.name, out)
		}
	}
	if code, _, errs := runIomux(); code != 2 || !strings.Contains(errs, "Programs:") {
		t.Errorf("iomux with no program: exit %d, stderr %q; want 2 and the list", code, errs)
	}
}

// A server's --backend is checked against what this OS has (kqueue is not
// a choice on Linux, epoll not on the BSDs), as a usage error.
func TestServerBackendMustExistHere(t *testing.T) {
	for _, b := range []string{"epoll", "kqueue", "poll", "select", "devpoll"} {
		if slices.Contains(iomux.Backends(), b) {
			continue
		}
		for _, prog := range []string{"echo-server", "chat-server", "log-server", "time-server"} {
			code, _, errs := runIomux(prog, "--backend", b)
			if code != 2 || !strings.Contains(errs, "--backend \""+b+"\": this OS has auto, "+strings.Join(iomux.Backends(), ", ")) {
				t.Errorf("iomux %s --backend %s: exit %d, stderr %q; want a usage error", prog, b, code, errs)
			}
		}
	}
}

// Every server's and client's help names its TLS flags; the clients' says
// loudly what --tls-insecure gives up; both say what -v shows with TLS.
func TestHelpMentionsTLSFlags(t *testing.T) {
	for _, tc := range []struct {
		programs []string
		want     []string
	}{
		{[]string{"echo-server", "chat-server", "log-server", "time-server"},
			[]string{"[--tls-cert FILE --tls-key FILE]", "  -tls-cert file\n", "  -tls-key file\n", "  -tls-min version\n", "iomux cert", "with TLS, what crosses the"}},
		{[]string{"echo-client", "slow-client", "chat-client", "watch"},
			[]string{"[--tls [--tls-ca FILE]]", "  -tls\n", "  -tls-ca file\n", "  -tls-insecure\n", "DO NOT VERIFY", "  -tls-server-name name\n", "  -tls-min version\n", "with --tls: the plaintext"}},
		{[]string{"cert"}, []string{"--tls-cert", "--tls-ca"}},
	} {
		for _, prog := range tc.programs {
			_, out, _ := runIomux(prog, "--help")
			for _, want := range tc.want {
				if !strings.Contains(out, want) {
					t.Errorf("iomux %s --help lacks %q:\n%s", prog, want, out)
				}
			}
		}
	}
}
