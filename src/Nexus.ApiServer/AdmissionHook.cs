using System.Text.Json.Nodes;

namespace Nexus.ApiServer;

/// <summary>Admission for one custom resource, run on every create and update (both the main resource and /status)
/// before the write, as the API server runs a CRD's structural schema: it may mutate <paramref name="obj"/> (prune
/// unknown fields, apply defaults) and returns the field errors that reject the request, each in the API server's text
/// form <c>spec.router.topK: Invalid value: 9: must be less than or equal to 8</c>. A non-empty result becomes 422
/// Invalid with one <c>details.causes[]</c> entry per error. <paramref name="oldObj"/> is null on create.</summary>
/// <remarks>Wiring the schema validator is one line:
/// <c>server.InstallCrd(yaml, admission: (obj, old) =&gt; schema.Admit(obj, old).Select(e =&gt; e.ToString()).ToList())</c>.</remarks>
public delegate IReadOnlyList<string> AdmissionHook(JsonObject obj, JsonObject? oldObj);

/// <summary>Makes the admission hook for one served version of a CRD (from the CRD as JSON), or null for none.</summary>
public delegate AdmissionHook? AdmissionFactory(JsonObject crd, string version);
