package cfn

// ValidationError is a template or parameter error, found before anything is created, with the
// message AWS gives; a service answers it as a ValidationError of the calling API.
type ValidationError struct {
	Message string
}

func (e *ValidationError) Error() string { return "ValidationError: " + e.Message }

func validation(msg string) *ValidationError { return &ValidationError{Message: msg} }
