package report

import (
	"bytes"
	"context"
	"fmt"
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

// headless runs Chromium headless on url with args added to the usual
// ones and returns what it printed.
func headless(t *testing.T, bin, url string, args ...string) (stdout, stderr string) {
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

// screenshot renders url at width × height and decodes the PNG.
func screenshot(t *testing.T, bin, url string, width, height int) (image.Image, []byte, string) {
	t.Helper()
	shot := filepath.Join(t.TempDir(), "report.png")
	_, stderr := headless(t, bin, url, "--screenshot="+shot, fmt.Sprintf("--window-size=%d,%d", width, height))
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, stderr)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	return img, b, stderr
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
	checkConsole := func(stderr string) {
		t.Helper()
		for _, line := range strings.Split(stderr, "\n") {
			if strings.Contains(line, ":CONSOLE") || strings.Contains(line, "Uncaught") {
				t.Errorf("console: %s", line)
			}
		}
	}

	img, _, stderr := screenshot(t, bin, url, 1400, 3000)
	checkConsole(stderr)
	if w, h := img.Bounds().Dx(), img.Bounds().Dy(); w != 1400 || h != 3000 {
		t.Errorf("screenshot is %d×%d, want 1400×3000", w, h)
	}
	if n := colours(img); n < 50 {
		t.Errorf("the screenshot has %d colours: blank?", n)
	}

	dom, stderr := headless(t, bin, url, "--dump-dom")
	checkConsole(stderr)
	for _, want := range []string{`id="verdict-table"`, `id="row-` + sum.Cells[0].ID + `"`, "How to read this"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered DOM lacks %q", want)
		}
	}
}

// Screenshot settings for docs/report.png (make screenshot).
const (
	// writeScreenshotEnv=1 makes TestWriteScreenshot write the PNG.
	writeScreenshotEnv = "LOCKBENCH_WRITE_SCREENSHOT"
	// screenshotRunEnv names a run directory whose report.html is shot;
	// unset, the synthetic run of the tests is.
	screenshotRunEnv = "LOCKBENCH_SCREENSHOT_RUN"
	// screenshotOutEnv overrides where the PNG goes.
	screenshotOutEnv = "LOCKBENCH_SCREENSHOT_OUT"
	// maxScreenshotBytes keeps the committed picture modest.
	maxScreenshotBytes = 400 << 10
)

// TestWriteScreenshot writes a screenshot of a report, for the README: the
// top of the page (header, verdict table, comparison plot) as a person
// first sees it, reduced to at most 256 colours to keep the file small.
// It runs only when LOCKBENCH_WRITE_SCREENSHOT=1 (make screenshot).
func TestWriteScreenshot(t *testing.T) {
	if os.Getenv(writeScreenshotEnv) != "1" {
		t.Skip("writes docs/report.png only with " + writeScreenshotEnv + "=1 (make screenshot)")
	}
	bin := chromium(t)
	dir := os.Getenv(screenshotRunEnv)
	if dir == "" {
		synth, sum := syntheticRun(t)
		if err := Write(synth, sum); err != nil {
			t.Fatal(err)
		}
		dir = synth
	}
	page, err := filepath.Abs(filepath.Join(dir, HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(page); err != nil {
		t.Fatalf("%s: %v (run bench run, or bench plot RUN_DIR, first)", screenshotRunEnv, err)
	}
	img, _, _ := screenshot(t, bin, "file://"+filepath.ToSlash(page), 1280, 1600)
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&buf, paletted(img)); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > maxScreenshotBytes {
		t.Fatalf("the screenshot is %d KiB, more than %d KiB", buf.Len()>>10, maxScreenshotBytes>>10)
	}
	out := os.Getenv(screenshotOutEnv)
	if out == "" {
		out = filepath.Join("..", "docs", "report.png")
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d KiB) from %s", out, buf.Len()>>10, page)
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
