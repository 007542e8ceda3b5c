using Nexus.ApiServer.Registry;

namespace Nexus.ApiServer.Tests.Registry;

public sealed class FieldViolationTests
{
    [Theory]
    [InlineData("spec.router.topK: Invalid value: 9: must be less than or equal to 8", "spec.router.topK", "FieldValueInvalid", "Invalid value: 9: must be less than or equal to 8")]
    [InlineData("spec.seed: Required value", "spec.seed", "FieldValueRequired", "Required value")]
    [InlineData("spec.router: Unsupported value: \"x\": supported values: \"nexus\", \"linear\"", "spec.router", "FieldValueNotSupported", "Unsupported value: \"x\": supported values: \"nexus\", \"linear\"")]
    [InlineData("spec.experts: Too many: 11: must have at most 10 items", "spec.experts", "FieldValueTooMany", "Too many: 11: must have at most 10 items")]
    [InlineData("spec.tolerations[0].key: Duplicate value: \"gpu\"", "spec.tolerations[0].key", "FieldValueDuplicate", "Duplicate value: \"gpu\"")]
    [InlineData("spec: Invalid value: \"object\": replicas must not exceed experts", "spec", "FieldValueInvalid", "Invalid value: \"object\": replicas must not exceed experts")]
    [InlineData("metadata.finalizers: Forbidden: no new finalizers", "metadata.finalizers", "FieldValueForbidden", "Forbidden: no new finalizers")]
    public void Admission_error_text_reads_back_into_a_cause(string text, string field, string reason, string message)
    {
        var violation = FieldViolation.Parse(text);

        Assert.Equal((field, reason, message), (violation.Field, violation.Reason, violation.Body));
        Assert.Equal(text, violation.ToString());
    }
}
