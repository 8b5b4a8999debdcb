package route

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Cookie is an HTTP cookie: one the request carries (Request.Cookies fills
// Name and Value) or one the response sets (Response.SetCookie). A zero
// attribute is left out of the Set-Cookie header. See RFC 6265.
type Cookie struct {
	Name  string // an HTTP token
	Value string // any bytes; SetCookie percent-encodes what a cookie cannot hold

	// Path limits the cookie to a path prefix, e.g. "/". Unlike Next.js,
	// which defaults it to "/", an empty Path is left out and the browser
	// uses the directory of the request path.
	Path   string
	Domain string // e.g. "example.com"; a leading dot is dropped

	// MaxAge is the cookie's lifetime in seconds: 0 leaves Max-Age out (a
	// session cookie unless Expires is set), a negative value sends
	// Max-Age=0 to delete the cookie now, as in net/http.
	MaxAge  int
	Expires time.Time // the zero time leaves Expires out

	Secure   bool // sent over HTTPS only
	HttpOnly bool // hidden from JavaScript
	SameSite SameSite
}

// SameSite is the SameSite attribute of a cookie. The zero value leaves it
// out.
type SameSite int

// SameSite values. Browsers accept SameSiteNone only with Secure.
const (
	SameSiteLax SameSite = iota + 1
	SameSiteStrict
	SameSiteNone
)

// SetCookie adds a Set-Cookie header for c, keeping earlier ones, so several
// cookies can be set. Bytes of Value that a cookie cannot hold (controls,
// space, '"', ',', ';', '\\', non-ASCII) and '%' are percent-encoded, as
// Next.js does, and Request.Cookie decodes them again. It fails with
// ErrInvalid when Name is not a token, or Path or Domain cannot be written,
// and with ErrHeadersSent once the body started.
//
// As with cookies().set in Next.js, the request's cookies change with it:
// Request.Cookie(c.Name) returns c.Value afterwards, in the same request,
// and nothing once the cookie is deleted (a negative MaxAge, or an Expires
// in the past and no MaxAge).
func (w *Response) SetCookie(c Cookie) error {
	v, err := c.header()
	if err != nil {
		return err
	}
	if err := w.AddHeader("Set-Cookie", v); err != nil {
		return err
	}
	if w.req != nil {
		w.req.setCookie(c.Name, c.Value, c.deletes())
	}
	return nil
}

// DeleteCookie tells the client to drop the cookie name, like
// cookies().delete(name) in Next.js: it sets it empty with Path "/",
// Max-Age=0 and an Expires in the past. A cookie set with another Path or a
// Domain is deleted with SetCookie, giving the same Path and Domain and a
// negative MaxAge.
func (w *Response) DeleteCookie(name string) error {
	return w.SetCookie(Cookie{Name: name, Path: "/", MaxAge: -1, Expires: time.Unix(0, 0)})
}

// header formats c as the value of a Set-Cookie header.
func (c *Cookie) header() (string, error) {
	if !isToken(c.Name) {
		return "", &argError{"cookie name", c.Name}
	}
	var b strings.Builder
	b.WriteString(c.Name)
	b.WriteByte('=')
	escapeCookieValue(&b, c.Value)
	if c.Path != "" {
		for i := 0; i < len(c.Path); i++ {
			if ch := c.Path[i]; ch < 0x20 || ch == 0x7f || ch == ';' {
				return "", &argError{"cookie path", c.Path}
			}
		}
		b.WriteString("; Path=")
		b.WriteString(c.Path)
	}
	if c.Domain != "" {
		d := strings.TrimPrefix(c.Domain, ".")
		if !isDomain(d) {
			return "", &argError{"cookie domain", c.Domain}
		}
		b.WriteString("; Domain=")
		b.WriteString(d)
	}
	if !c.Expires.IsZero() {
		b.WriteString("; Expires=")
		b.WriteString(c.Expires.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT"))
	}
	switch {
	case c.MaxAge > 0:
		b.WriteString("; Max-Age=")
		b.WriteString(strconv.Itoa(c.MaxAge))
	case c.MaxAge < 0:
		b.WriteString("; Max-Age=0")
	}
	if c.HttpOnly {
		b.WriteString("; HttpOnly")
	}
	if c.Secure {
		b.WriteString("; Secure")
	}
	switch c.SameSite {
	case SameSiteLax:
		b.WriteString("; SameSite=Lax")
	case SameSiteStrict:
		b.WriteString("; SameSite=Strict")
	case SameSiteNone:
		b.WriteString("; SameSite=None")
	}
	return b.String(), nil
}

// escapeCookieValue writes v with every byte that is not a cookie-octet
// (RFC 6265, 4.1.1), and '%', percent-encoded.
func escapeCookieValue(b *strings.Builder, v string) {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(v); i++ {
		c := v[i]
		if isCookieOctet(c) && c != '%' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
}

func isCookieOctet(c byte) bool {
	return 0x21 <= c && c <= 0x7e && c != '"' && c != ',' && c != ';' && c != '\\'
}

func isDomain(d string) bool {
	if d == "" {
		return false
	}
	for i := 0; i < len(d); i++ {
		c := d[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// isToken reports whether s is an HTTP token (RFC 9110, 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// deletes reports whether c, set, deletes the cookie: a negative MaxAge, or
// an Expires in the past and no MaxAge (which a browser would prefer).
func (c *Cookie) deletes() bool {
	return c.MaxAge < 0 || c.MaxAge == 0 && !c.Expires.IsZero() && c.Expires.Before(time.Now())
}

// setCookie makes the request's cookies show name set to value, or gone
// when deleted, as a later request from the client would. The list is
// copied: one that Cookies returned before stays as it was.
func (r *Request) setCookie(name, value string, deleted bool) {
	old := r.Cookies()
	cookies := make([]Cookie, 0, len(old)+1)
	found := false
	for _, c := range old {
		switch {
		case c.Name != name:
			cookies = append(cookies, c)
		case !deleted && !found:
			cookies = append(cookies, Cookie{Name: name, Value: value})
			found = true
		}
	}
	if !deleted && !found {
		cookies = append(cookies, Cookie{Name: name, Value: value})
	}
	r.cookies = cookies
}

// parseCookies parses the values of the Cookie header: "a=1; b=2". Values
// in double quotes lose them; percent-escapes are decoded when well formed.
func parseCookies(lines []string) []Cookie {
	var cookies []Cookie
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			name, value, _ := strings.Cut(strings.Trim(part, " \t"), "=")
			name = strings.TrimRight(name, " \t")
			if !isToken(name) {
				continue
			}
			value = strings.TrimLeft(value, " \t")
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			if strings.IndexByte(value, '%') >= 0 {
				if v, err := url.PathUnescape(value); err == nil {
					value = v
				}
			}
			cookies = append(cookies, Cookie{Name: name, Value: value})
		}
	}
	return cookies
}
