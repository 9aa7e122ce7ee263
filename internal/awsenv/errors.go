package awsenv

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go"
)

// APIError is an AWS error reduced to what a person needs: the operation,
// the AWS error code and its message. It unwraps to the SDK's error.
type APIError struct {
	Operation string
	Code      string
	Message   string
	Attempts  int
	err       error
}

func (e *APIError) Error() string {
	s := e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Operation != "" {
		s = e.Operation + ": " + s
	}
	if e.Attempts > 1 {
		s += fmt.Sprintf(" (after %d attempts)", e.Attempts)
	}
	return s
}

func (e *APIError) Unwrap() error { return e.err }

// Simplify turns the SDK's long operation errors into an *APIError when the
// error carries an AWS error code; other errors are returned unchanged.
func Simplify(err error) error {
	if err == nil {
		return nil
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		return err
	}
	out := &APIError{Code: api.ErrorCode(), Message: api.ErrorMessage(), err: err}
	var op *smithy.OperationError
	if errors.As(err, &op) {
		out.Operation = op.Service() + ":" + op.Operation()
	}
	var me *retry.MaxAttemptsError
	if errors.As(err, &me) {
		out.Attempts = me.Attempt
	}
	return out
}

// ErrorCode returns the AWS error code carried by err, or "".
func ErrorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// CallerError means the caller's own AWS access is unusable: no credentials,
// credentials AWS rejected, or an endpoint that could not be reached. Nothing
// can be done without it (keyage exits 4).
type CallerError struct{ Err error }

func (e *CallerError) Error() string { return e.Err.Error() }

func (e *CallerError) Unwrap() error { return e.Err }

// ProfileError means the named shared-config profile does not exist: a
// configuration error (keyage exits 2).
type ProfileError struct {
	Profile string
	Err     error
}

func (e *ProfileError) Error() string {
	return fmt.Sprintf("AWS profile %q: not in the shared config or credentials files", e.Profile)
}

func (e *ProfileError) Unwrap() error { return e.Err }
