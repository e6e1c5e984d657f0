package main

// chat-server --http in a real browser: the page (internal/chat/webpage)
// in headless Chromium, driven over the DevTools protocol (chromedp), in
// one room with chat-client and a raw TCP member.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/iomux/iomux/internal/chat/chattest"
)

// screenshotEnv names the file (relative to the repository's root) where
// TestChatServerBrowser writes its screenshot of the page; unset, none is
// written.
const screenshotEnv = "IOMUX_SCREENSHOT"

// TestChatServerBrowser: two pages in headless Chromium, chat-client and
// a raw TCP member in one room: lines, joins, leaves, /nick, /who and
// /quit in every direction; hostile text stays text; the server stopped
// and started again on the same addresses under the pages, which
// reconnect by themselves and ask again for their names.
func TestChatServerBrowser(t *testing.T) {
	browser := startBrowser(t)
	s := srvStart(t, runChatServer, "--http", "127.0.0.1:0")
	web := webAddr(t, s)

	carol := startChatClient(t, "--addr", s.addr, "--name", "carol")
	carol.out.WaitFor(t, "* you are now carol\n", 1)

	alice := openChatPage(t, browser, web)
	carol.out.WaitFor(t, "* ["+alice.name+"] entered room\n", 1)
	alice.say("/nick alice")
	alice.waitLine("* you are now alice", 1)
	carol.out.WaitFor(t, "* ["+alice.name+"] is now known as [alice]\n", 1)
	alice.name = "alice"

	bob := openChatPage(t, browser, web)
	alice.waitLine("* ["+bob.name+"] entered room", 1)
	carol.out.WaitFor(t, "* ["+bob.name+"] entered room\n", 1)
	bob.say("/nick bob")
	bob.waitLine("* you are now bob", 1)
	alice.waitLine("* ["+bob.name+"] is now known as [bob]", 1)
	bob.name = "bob"
	alice.waitMembers("alice", "bob", "carol")
	bob.waitMembers("alice", "bob", "carol")
	bob.waitMe("bob")

	// Lines in every direction: a page's own line is shown as it is sent.
	alice.say("hello from a browser")
	alice.waitLine("[alice] hello from a browser", 1)
	bob.waitLine("[alice] hello from a browser", 1)
	carol.out.WaitFor(t, "[alice] hello from a browser\n", 1)
	bob.say("hi alice, bob here")
	alice.waitLine("[bob] hi alice, bob here", 1)
	carol.out.WaitFor(t, "[bob] hi alice, bob here\n", 1)
	carol.say(t, "and carol, from a terminal")
	alice.waitLine("[carol] and carol, from a terminal", 1)
	bob.waitLine("[carol] and carol, from a terminal", 1)
	bob.say("/who")
	bob.waitLine("* 3 in the room: [carol] [alice] [bob]", 1)

	// Hostile text: a line, and a name, that would make elements (and run
	// a script) if the page parsed them as HTML. The page's CSP refuses
	// inline handlers anyway, so what counts is that no element was made:
	// every text on the page is a text node.
	const img = `<img src=x onerror="window.pwned=1">`
	carol.say(t, img)
	alice.waitLine("[carol] "+img, 1)
	bob.waitLine("[carol] "+img, 1)
	alice.say(`<script>window.pwned=1</script> <b>bold?</b>`)
	bob.waitLine(`[alice] <script>window.pwned=1</script> <b>bold?</b>`, 1)
	carol.out.WaitFor(t, `[alice] <script>window.pwned=1</script> <b>bold?</b>`+"\n", 1)
	bob.say("/nick " + `<img/src/onerror=pwned=1>`)
	bob.waitLine("* a name may hold letters, digits, - _ and . only", 1)
	bob.waitMe("bob")
	for _, p := range []*chatPage{alice, bob} {
		p.checkTextOnly()
	}
	alice.screenshot()

	// A TCP member who quits: the pages see it leave.
	carol.say(t, "/quit")
	carol.out.WaitFor(t, "Disconnected from chat server\n", 1)
	carol.wait(t)
	alice.waitLine("* [carol] left the room", 1)
	bob.waitLine("* [carol] left the room", 1)
	alice.waitMembers("alice", "bob")

	// The server goes and comes back on the same addresses: the pages
	// notice, and reconnect with their names.
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*chatPage{alice, bob} {
		p.waitLine("* the server is shutting down", 1)
		p.waitStatus("disconnected; reconnecting in ", true)
		p.waitMembers()
	}
	s = srvStart(t, runChatServer, "--addr", s.addr, "--http", web)
	if got := webAddr(t, s); got != web {
		t.Fatalf("restarted with the web page on %s, want %s", got, web)
	}
	for _, p := range []*chatPage{alice, bob} {
		p.waitStatus("connected to "+web, false)
		p.waitLine("* you are now "+p.name, 2)
		p.waitMe(p.name)
	}
	alice.waitMembers("alice", "bob")
	bob.waitMembers("alice", "bob")

	// A raw TCP member (as telnet) in the new room, and the pages talk
	// again.
	dave := chattest.Join(t, s.addr)
	alice.waitLine("* ["+dave.Name+"] entered room", 1)
	bob.waitMembers("alice", "bob", dave.Name)
	alice.say("back again")
	dave.WaitLine(t, "[alice] back again")
	bob.waitLine("[alice] back again", 1)
	dave.Say(t, "welcome back, pages\n")
	alice.waitLine("["+dave.Name+"] welcome back, pages", 1)
	bob.waitLine("["+dave.Name+"] welcome back, pages", 1)

	// /quit from a page: it says goodbye and stays away.
	bob.say("/quit")
	bob.waitLine("* bye", 1)
	bob.waitStatus("you left the room; reload the page to join again", true)
	dave.WaitLine(t, "* [bob] left the room")
	alice.waitLine("* [bob] left the room", 1)
	alice.waitMembers("alice", dave.Name)
	bob.waitMembers()
	alice.checkTextOnly()
}

// startBrowser starts headless Chromium, with a temporary profile, and
// returns its context, for openChatPage (its first tab stays blank).
// Cleanup closes the browser, waits for it to exit and removes the
// profile. The test is skipped without a Chromium, and on
// Windows (there, and under Wine, no Chromium is looked for).
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the browser test runs on Linux and the BSDs (no Chromium looked for on Windows, nor under Wine)")
	}
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no Chromium found (chromium, chromium-browser, google-chrome): apt-get install chromium")
	}
	// The exec allocator makes a temporary profile, and at the end kills
	// what is left of the browser's processes and removes the profile.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	var profile string // where /proc shows it: Linux
	t.Cleanup(func() {
		cancel()
		cancelAlloc() // waits for the browser to exit, and its profile to go
		if profile == "" {
			return
		}
		if _, err := os.Stat(profile); !os.IsNotExist(err) {
			t.Errorf("the browser's profile %s is still there (%v)", profile, err)
		}
		if pids := procsWithArg("--user-data-dir=" + profile); len(pids) > 0 {
			t.Errorf("browser processes left: %v", pids)
		}
	})
	if err := chromedpStart(ctx, cancel); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", chromedp.FromContext(ctx).Browser.Process().Pid))
	for arg := range strings.SplitSeq(string(cmdline), "\x00") {
		if dir, ok := strings.CutPrefix(arg, "--user-data-dir="); ok {
			profile = dir
		}
	}
	return ctx
}

// procsWithArg returns the processes (in /proc: Linux) with arg on their
// command line.
func procsWithArg(arg string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if slices.Contains(strings.Split(string(cmdline), "\x00"), arg) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// chromedpStart starts ctx's browser or tab: it lives as long as the
// context of its first action, so that action gets ctx itself, and the
// wait is bounded here (past chatPageWait, cancel ends it).
func chromedpStart(ctx context.Context, cancel context.CancelFunc) error {
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		return err
	case <-time.After(chatPageWait):
		cancel()
		<-started
		return fmt.Errorf("not started within %v", chatPageWait)
	}
}

// webAddr waits for s to announce its web page on stderr, and returns
// its address.
func webAddr(t *testing.T, s *srvRunning) string {
	t.Helper()
	announced := regexp.MustCompile(`the room's web page: http://(\S+)/\n`)
	s.errs.WaitUntil(t, "the web page announced", announced.MatchString)
	return announced.FindStringSubmatch(s.errs.String())[1]
}

// chatPage is the room's web page in a browser tab.
type chatPage struct {
	t    *testing.T
	ctx  context.Context // the tab's
	name string          // the member's, as the room calls it
}

// chatPageWait bounds each wait for the page, as srvWait does the others.
const chatPageWait = srvWait

// openChatPage opens the page at web (host:port) in a new tab of browser
// and waits until it has joined the room. Cleanup closes the tab.
func openChatPage(t *testing.T, browser context.Context, web string) *chatPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	p := &chatPage{t: t, ctx: ctx}
	if err := chromedpStart(ctx, cancel); err != nil {
		t.Fatalf("opening a tab: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, chatPageWait)
	defer tcancel()
	if err := chromedp.Do(tctx, chromedp.EmulateViewport(880, 380), chromedp.Navigate("http://"+web+"/")); err != nil {
		t.Fatalf("opening http://%s/: %v", web, err)
	}
	p.name = p.waitFor("the page's own name in its members", `document.querySelector("#members li.me")?.textContent`)
	return p
}

// pageLines is a JavaScript expression: the page's lines, as the room
// sends them ("[name] text", or the notice).
const pageLines = `[...document.querySelectorAll("#log li")].map(li => {
	const who = li.querySelector(".who");
	return who ? who.textContent + " " + li.querySelector(".text").textContent : li.textContent;
})`

// pageMembers is a JavaScript expression: the names in the page's list
// of members, sorted.
const pageMembers = `[...document.querySelectorAll("#members li")].map(li => li.textContent).sort()`

// waitFor waits until the JavaScript expression is truthy on the page,
// and returns its value as text; it fails the test, showing the page,
// if it is not within chatPageWait.
func (p *chatPage) waitFor(what, expr string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, chatPageWait)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Poll[any](expr,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(chatPageWait)))
	if err != nil {
		p.t.Fatalf("page of %s: waiting for %s: %v\n%s", p.name, what, err, p.dump())
	}
	return fmt.Sprint(got)
}

// dump is what the page shows, for a failing test.
func (p *chatPage) dump() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({status: document.getElementById("status").textContent, members: `+
		pageMembers+`, lines: `+pageLines+`}, null, 1)`))
	if err != nil {
		return "(the page could not be read: " + err.Error() + ")"
	}
	return text
}

// say types line in the page's input and presses Enter.
func (p *chatPage) say(line string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, chatPageWait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("line"), line+kb.Enter)); err != nil {
		p.t.Fatalf("page of %s: typing %q: %v", p.name, line, err)
	}
}

// waitLine waits until the page shows line (as the room sent it) n times.
func (p *chatPage) waitLine(line string, n int) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("%d× %q", n, line), fmt.Sprintf(`%s.filter(l => l === %s).length >= %d`, pageLines, jsString(line), n))
}

// waitMembers waits until the page lists exactly names (in any order).
func (p *chatPage) waitMembers(names ...string) {
	p.t.Helper()
	want := slices.Sorted(slices.Values(names))
	if want == nil {
		want = []string{}
	}
	w, _ := json.Marshal(want)
	p.waitFor("the members "+string(w), fmt.Sprintf(`JSON.stringify(%s) === %s`, pageMembers, jsString(string(w))))
}

// waitMe waits until the page shows name as its own (bold, in the list).
func (p *chatPage) waitMe(name string) {
	p.t.Helper()
	p.waitFor("itself as "+name, fmt.Sprintf(`document.querySelector("#members li.me")?.textContent === %s`, jsString(name)))
}

// waitStatus waits until the status line starts with prefix, marked down
// (red) or not.
func (p *chatPage) waitStatus(prefix string, down bool) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("the status %q (down: %v)", prefix, down), fmt.Sprintf(
		`(s => s.textContent.startsWith(%s) && s.classList.contains("down") === %v)(document.getElementById("status"))`, jsString(prefix), down))
}

// checkTextOnly checks that no script of a member ran and that what the
// room sent made no element: the lines, names and notices hold text only,
// and the page has no img, no second script and no b.
func (p *chatPage) checkTextOnly() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, chatPageWait)
	defer cancel()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		pwned: window.pwned === undefined ? "no" : String(window.pwned),
		made: [...document.querySelectorAll("#log li .who *, #log li .text *, #log li.notice *, #members li *, img, b, script + script")].map(e => e.outerHTML),
	})`))
	if err != nil {
		p.t.Fatalf("page of %s: %v", p.name, err)
	}
	if got != `{"pwned":"no","made":[]}` {
		p.t.Errorf("page of %s: a member's text made elements or ran: %s\n%s", p.name, got, p.dump())
	}
}

// screenshot writes a PNG of the page to $IOMUX_SCREENSHOT, if set
// (relative to the repository's root).
func (p *chatPage) screenshot() {
	p.t.Helper()
	path := os.Getenv(screenshotEnv)
	if path == "" {
		return
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join("..", "..", path) // the test runs in cmd/iomux
	}
	ctx, cancel := context.WithTimeout(p.ctx, chatPageWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot of the page of %s: %s (%d bytes)", p.name, path, len(png))
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// say sends line (and its "\n") from chat-client's stdin.
func (r *chatRun) say(t *testing.T, line string) {
	t.Helper()
	if _, err := r.stdin.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}
