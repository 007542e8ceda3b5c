using System.Text.Json.Nodes;
using Nexus.ApiServer.Resources;

namespace Nexus.ApiServer.Registry;

/// <summary>Custom resources: status dropped on create when the CRD has a status subresource, an update must name the
/// resourceVersion it replaces, DELETE answers with the object, and the CRD's admission (schema) runs on every write.</summary>
internal sealed class CustomResourceStrategy(AdmissionHook? admission) : ResourceStrategy
{
    public override bool AllowUnconditionalUpdate => false;

    public override bool ReturnDeletedObject => true;

    public override JsonNode? InitialStatus(JsonObject obj) => null;

    public override IEnumerable<FieldViolation> ValidateCreate(ResourceDefinition definition, JsonObject obj) => Admit(obj, null);

    public override IEnumerable<FieldViolation> ValidateUpdate(ResourceDefinition definition, JsonObject obj, JsonObject old) => Admit(obj, old);

    private List<FieldViolation> Admit(JsonObject obj, JsonObject? old) =>
        admission is null ? [] : admission(obj, old).Select(FieldViolation.Parse).ToList();
}
