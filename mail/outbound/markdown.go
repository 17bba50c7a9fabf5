package outbound

import (
	"bytes"
	"fmt"
	"html"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	east "github.com/yuin/goldmark/extension/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer"
	ghtml "github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"
	"github.com/yuin/goldmark/util"
)

// Inline styles of the rendered HTML part. Mail clients drop <style>
// blocks and external sheets, so every element carries its own style
// attribute (book/sending.md, "Markdown"). They are written into
// double-quoted attributes unescaped, so they hold no `"`, `<` or `&`.
const (
	styleBody       = `font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Helvetica,Arial,sans-serif;font-size:14px;line-height:1.5;color:#1f2328`
	styleParagraph  = `margin:0 0 12px 0`
	styleHeading    = `margin:16px 0 8px 0;font-weight:600;line-height:1.25`
	styleBlockquote = `margin:0 0 12px 0;padding:0 12px;border-left:4px solid #d0d7de;color:#57606a`
	styleList       = `margin:0 0 12px 0;padding-left:24px`
	styleListItem   = `margin:0 0 4px 0`
	stylePre        = `margin:0 0 12px 0;padding:12px;background:#f6f8fa;border-radius:6px;overflow:auto;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;line-height:1.45`
	styleCode       = `padding:1px 4px;background:#f6f8fa;border-radius:4px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px`
	styleLink       = `color:#0969da`
	styleImage      = `max-width:100%`
	styleRule       = `border:none;border-top:1px solid #d0d7de;margin:16px 0`
	styleTable      = `border-collapse:collapse;margin:0 0 12px 0`
	styleCell       = `border:1px solid #d0d7de;padding:4px 8px`
	styleSignature  = `margin:16px 0 0 0;color:#57606a`
)

// headingSize is the font size of a heading level.
func headingSize(level int) string {
	switch level {
	case 1:
		return "24px"
	case 2:
		return "20px"
	case 3:
		return "17px"
	case 4:
		return "15px"
	}
	return "14px"
}

// renderMarkdown renders Markdown as GitHub Flavored Markdown with inline
// styles. Raw HTML in the source is not rendered: goldmark leaves it out
// unless html.WithUnsafe is set, and it never is for mail an agent wrote
// (book/security.md).
func renderMarkdown(src string) (string, error) {
	md := goldmark.New(
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithParserOptions(parser.WithASTTransformers(util.Prioritized(styler{}, 1000))),
		goldmark.WithRendererOptions(
			renderer.WithNodeRenderers(util.Prioritized(codeBlockRenderer{}, 100)),
		),
	)
	var out bytes.Buffer
	if err := md.Convert([]byte(src), &out); err != nil {
		return "", fmt.Errorf("render markdown: %w", err)
	}
	return out.String(), nil
}

// htmlDocument wraps rendered Markdown (and the signature) in a complete
// document with the base style on a wrapper element.
func htmlDocument(body, signature string) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n</head>\n<body>\n")
	b.WriteString(`<div style="` + styleBody + `">` + "\n")
	b.WriteString(body)
	b.WriteString(signatureHTML(signature))
	b.WriteString("</div>\n</body>\n</html>\n")
	return b.String()
}

// signatureHTML renders the plain-text signature for an HTML part, behind
// the usual "-- " separator line (RFC 3676 4.3).
func signatureHTML(sig string) string {
	sig = strings.Trim(sig, "\n")
	if sig == "" {
		return ""
	}
	lines := strings.Split(sig, "\n")
	for i, l := range lines {
		lines[i] = html.EscapeString(l)
	}
	return `<p style="` + styleSignature + `">-- <br>` + strings.Join(lines, "<br>\n") + "</p>\n"
}

// withSignatureHTML appends the signature to caller-given HTML, inside its
// body element when it has one.
func withSignatureHTML(doc, sig string) string {
	if sig == "" {
		return doc
	}
	s := signatureHTML(sig)
	if i := strings.LastIndex(strings.ToLower(doc), "</body>"); i >= 0 {
		return doc[:i] + s + doc[i:]
	}
	if doc != "" && !strings.HasSuffix(doc, "\n") {
		doc += "\n"
	}
	return doc + s
}

// styler is an AST transformer that gives every element we render a style
// attribute.
type styler struct{}

// Transform implements parser.ASTTransformer.
func (styler) Transform(doc *ast.Document, _ text.Reader, _ parser.Context) {
	_ = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		style := ""
		switch n := n.(type) {
		case *ast.Paragraph:
			style = styleParagraph
		case *ast.Heading:
			style = styleHeading + ";font-size:" + headingSize(n.Level)
		case *ast.Blockquote:
			style = styleBlockquote
		case *ast.List:
			style = styleList
		case *ast.ListItem:
			style = styleListItem
		case *ast.CodeSpan:
			style = styleCode
		case *ast.Link, *ast.AutoLink:
			style = styleLink
		case *ast.Image:
			style = styleImage
		case *ast.ThematicBreak:
			style = styleRule
		case *east.Table:
			style = styleTable
		case *east.TableCell:
			style = styleCell
		}
		if style != "" {
			n.SetAttributeString("style", []byte(style))
		}
		return ast.WalkContinue, nil
	})
}

// codeBlockRenderer renders indented and fenced code blocks with a styled
// <pre>: goldmark's own renderer writes no attributes for them.
type codeBlockRenderer struct{}

// RegisterFuncs implements renderer.NodeRenderer.
func (codeBlockRenderer) RegisterFuncs(reg renderer.NodeRendererFuncRegisterer) {
	reg.Register(ast.KindCodeBlock, renderCodeBlock)
	reg.Register(ast.KindFencedCodeBlock, renderCodeBlock)
}

func renderCodeBlock(w util.BufWriter, source []byte, n ast.Node, entering bool) (ast.WalkStatus, error) {
	if !entering {
		_, _ = w.WriteString("</code></pre>\n")
		return ast.WalkContinue, nil
	}
	_, _ = w.WriteString(`<pre style="` + stylePre + `"><code>`)
	lines := n.Lines()
	for i := 0; i < lines.Len(); i++ {
		seg := lines.At(i)
		ghtml.DefaultWriter.RawWrite(w, seg.Value(source))
	}
	return ast.WalkSkipChildren, nil
}
