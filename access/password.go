package access

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters for new passwords: OWASP's Password Storage Cheat
// Sheet's first argon2id configuration (19 MiB, 2 passes, 1 lane), about
// 30 ms on a server core. They are written into every hash, so raising
// them later leaves existing hashes verifiable.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// MinPasswordLength is the shortest password accepted (NIST SP 800-63B
// asks for at least 8; a plant's shared terminals argue for more).
const MinPasswordLength = 12

// maxPasswordLength bounds the work a login costs an attacker to ask for.
const maxPasswordLength = 1024

var b64 = base64.RawStdEncoding

// HashPassword returns the argon2id hash of password in the PHC string
// format, $argon2id$v=19$m=…,t=…,p=…$salt$hash, with a new random salt.
func HashPassword(password string) (string, error) {
	if err := checkPassword(password); err != nil {
		return "", err
	}
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: read random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

func checkPassword(password string) error {
	n := len([]rune(password))
	switch {
	case n < MinPasswordLength:
		return invalidf("the password has %d characters: give at least %d (a passphrase of a few words is easiest)", n, MinPasswordLength)
	case len(password) > maxPasswordLength:
		return invalidf("the password is longer than %d bytes", maxPasswordLength)
	}
	return nil
}

// VerifyPassword reports whether password matches encoded, a hash made by
// HashPassword (with whatever parameters it records). An encoded hash
// that cannot be read is an error, never a match.
func VerifyPassword(encoded, password string) (bool, error) {
	if len(password) > maxPasswordLength {
		return false, nil
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, fmt.Errorf("password hash is not an argon2id PHC string")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("password hash has argon2 version %q, want v=%d", parts[2], argon2.Version)
	}
	var mem, time uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &time, &threads); err != nil {
		return false, fmt.Errorf("password hash parameters %q: %w", parts[3], err)
	}
	// Bound what a hash in the store can make a login cost.
	if mem == 0 || mem > 1<<20 || time == 0 || time > 100 || threads == 0 {
		return false, fmt.Errorf("password hash parameters %q out of range", parts[3])
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("password hash salt: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false, fmt.Errorf("password hash key: %v", err)
	}
	got := argon2.IDKey([]byte(password), salt, time, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is verified against when a login names no user, so that an
// unknown name takes as long to refuse as a wrong password.
// It is made on first use: commands that sign nobody in pay nothing.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("not-a-password-of-anyone") // fails only on a short password, and this one is not
	return h
})

// passwordAlphabet leaves out letters and digits read one for another
// (0 O 1 l I).
const passwordAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// RandomPassword returns a new random password of four groups of five
// characters (about 100 bits), easy to read out and type: for a demo's
// user, or a first admin's, printed once.
func RandomPassword() string {
	b := make([]byte, 20)
	rand.Read(b) // never fails (crypto/rand aborts the program instead)
	var out strings.Builder
	for i, c := range b {
		if i > 0 && i%5 == 0 {
			out.WriteByte('-')
		}
		out.WriteByte(passwordAlphabet[int(c)%len(passwordAlphabet)])
	}
	return out.String()
}
