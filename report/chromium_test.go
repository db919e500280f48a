package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockbench/lockbench/internal/testenv"
)

// chromium finds a Chromium to drive headless: skipped when there is none
// (a failure in CI, whose install script provides it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	testenv.Skip(t, "no chromium on PATH (apt-get install -y chromium)")
	return ""
}

// TestReportRendersInChromium opens report.html in headless Chromium: the
// page must log no console message (no script error, nothing refused),
// its DOM must hold the verdict table, and its screenshot must be a PNG
// with something drawn on it.
func TestReportRendersInChromium(t *testing.T) {
	bin := chromium(t)
	dir, sum := syntheticRun(t)
	if err := Write(dir, sum); err != nil {
		t.Fatal(err)
	}
	url := "file://" + filepath.ToSlash(filepath.Join(dir, HTMLFile))
	run := func(args ...string) (stdout, stderr string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
			"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
		cmd := exec.CommandContext(ctx, bin, append(append(base, args...), url)...)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("chromium %v: %v\n%s", args, err, e.String())
		}
		return o.String(), e.String()
	}
	checkConsole := func(stderr string) {
		t.Helper()
		for _, line := range strings.Split(stderr, "\n") {
			if strings.Contains(line, ":CONSOLE") || strings.Contains(line, "Uncaught") {
				t.Errorf("console: %s", line)
			}
		}
	}

	shot := filepath.Join(t.TempDir(), "report.png")
	_, stderr := run("--screenshot="+shot, "--window-size=1400,3000")
	checkConsole(stderr)
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, stderr)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != 1400 || h != 3000 {
		t.Errorf("screenshot is %d×%d, want 1400×3000", w, h)
	}
	if n := colours(img); n < 50 {
		t.Errorf("the screenshot has %d colours: blank?", n)
	}
	if out := os.Getenv("LOCKBENCH_REPORT_SCREENSHOT"); out != "" {
		os.WriteFile(out, b, 0o644) // to look at it
	}

	dom, stderr := run("--dump-dom")
	checkConsole(stderr)
	for _, want := range []string{`id="verdict-table"`, `id="row-` + sum.Cells[0].ID + `"`, "How to read this"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered DOM lacks %q", want)
		}
	}
}

// colours counts the distinct colours of img, sampling every fourth pixel.
func colours(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
		}
	}
	return len(seen)
}
