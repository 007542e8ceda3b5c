using Nexus.Api.Validation;

namespace Nexus.ApiServer;

/// <summary>The admission a real API server gives every custom resource: its CRD's structural schema prunes unknown
/// fields, applies defaults and validates (keywords and CEL rules), with Nexus.Api's validator — the one `nexus`
/// itself checks manifests with.</summary>
public static class SchemaAdmission
{
    public static AdmissionFactory Factory { get; } = (crd, version) =>
    {
        var schema = CrdSchema.FromCrd(crd, version);
        return (obj, old) => schema.Admit(obj, old).Select(error => error.ToString()).ToList();
    };
}
