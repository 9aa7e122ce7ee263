// Package cfn is the sandbox's CloudFormation template engine: templates in YAML (with the
// short-form intrinsic tags !Ref, !Sub, !GetAtt, ...) or JSON parsed into generic values and
// checked as AWS checks them before anything is created (unknown sections, unresolved
// references, circular dependencies, capabilities); parameters resolved against their
// declarations; conditions and the intrinsic functions evaluated for one stack.
//
// Template format errors are *ValidationError values carrying AWS's messages; what only a
// resource can find is left to the caller (the sandbox's CloudFormation service), which
// provisions resources and resolves Ref and Fn::GetAtt of provisioned ones through the
// Evaluator's Ref and GetAtt functions. The package depends on nothing else in the sandbox.
package cfn
