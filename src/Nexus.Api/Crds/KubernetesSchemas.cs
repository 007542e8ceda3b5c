using k8s.Models;

namespace Nexus.Api.Crds;

/// <summary>
/// Schemas of the Kubernetes types the API reuses, written out because k8s.Models carries no schema metadata. They
/// follow the upstream OpenAPI (metav1.Condition as kubebuilder emits it, core/v1 Toleration, metav1.LabelSelector)
/// with the bounds CEL cost estimation needs.
/// </summary>
internal static class KubernetesSchemas
{
    private const string ConditionTypePattern =
        "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$";

    /// <summary>metav1.Condition's reason: CamelCase words, never empty.</summary>
    public const string ConditionReasonPattern = "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$";

    private static readonly Dictionary<Type, Func<V1JSONSchemaProps>> Known = new()
    {
        [typeof(V1Condition)] = Condition,
        [typeof(V1Toleration)] = Toleration,
        [typeof(V1LabelSelector)] = LabelSelector,
    };

    public static bool TryGet(Type type, out V1JSONSchemaProps schema)
    {
        if (Known.TryGetValue(type, out var build))
        {
            schema = build();
            return true;
        }
        schema = null!;
        return false;
    }

    public static bool IsKnown(Type type) => Known.ContainsKey(type);

    /// <summary>metav1.ObjectMeta: the API server validates it itself, so the schema says only that it is an object.</summary>
    public static V1JSONSchemaProps ObjectMeta() => new() { Type = "object" };

    /// <summary>An IntOrString field, in the structural form the API server accepts (anyOf integer/string).</summary>
    public static V1JSONSchemaProps IntOrString() => new()
    {
        AnyOf = [new V1JSONSchemaProps { Type = "integer" }, new V1JSONSchemaProps { Type = "string" }],
        XKubernetesIntOrString = true,
    };

    /// <summary>A resource.Quantity ("500m", "16Gi", 2), as controller-gen emits it.</summary>
    public static V1JSONSchemaProps Quantity()
    {
        var schema = IntOrString();
        schema.Pattern = "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$";
        return schema;
    }

    private static V1JSONSchemaProps Condition() => Object(
        "A metav1.Condition: one aspect of the resource's state.",
        required: ["lastTransitionTime", "message", "reason", "status", "type"],
        ("type", new V1JSONSchemaProps
        {
            Type = "string", MaxLength = 316, Pattern = ConditionTypePattern,
            Description = "Condition type in CamelCase, e.g. Ready, Reconciling, Stalled.",
        }),
        ("status", new V1JSONSchemaProps
        {
            Type = "string", EnumProperty = ["True", "False", "Unknown"],
            Description = "Status of the condition: True, False or Unknown.",
        }),
        ("reason", new V1JSONSchemaProps
        {
            Type = "string", MinLength = 1, MaxLength = 1024, Pattern = ConditionReasonPattern,
            Description = "Programmatic identifier of the condition's last transition, in CamelCase.",
        }),
        ("message", new V1JSONSchemaProps
        {
            Type = "string", MaxLength = Conditions.MaxMessageLength,
            Description = "Human-readable details of the transition; may be empty.",
        }),
        ("lastTransitionTime", new V1JSONSchemaProps
        {
            Type = "string", Format = "date-time",
            Description = "When the status last changed from one value to another.",
        }),
        ("observedGeneration", new V1JSONSchemaProps
        {
            Type = "integer", Format = "int64", Minimum = 0,
            Description = "The metadata.generation the condition was set from.",
        }));

    private static V1JSONSchemaProps Toleration() => Object(
        "A core/v1 Toleration: lets the pod schedule onto nodes with a matching taint.",
        required: [],
        ("key", new V1JSONSchemaProps
        {
            Type = "string", MaxLength = 316,
            Description = "Taint key the toleration applies to; empty with operator Exists matches every taint.",
        }),
        ("operator", new V1JSONSchemaProps
        {
            Type = "string", EnumProperty = ["Exists", "Equal"],
            Description = "Exists (any value) or Equal (the value below); Equal when unset.",
        }),
        ("value", new V1JSONSchemaProps
        {
            Type = "string", MaxLength = 63,
            Description = "Taint value to match with operator Equal.",
        }),
        ("effect", new V1JSONSchemaProps
        {
            Type = "string", EnumProperty = ["NoSchedule", "PreferNoSchedule", "NoExecute"],
            Description = "Taint effect to match; unset matches every effect.",
        }),
        ("tolerationSeconds", new V1JSONSchemaProps
        {
            Type = "integer", Format = "int64",
            Description = "With effect NoExecute: seconds the pod stays bound after the taint appears; unset: forever.",
        }));

    private static V1JSONSchemaProps LabelSelector()
    {
        var requirement = Object(
            "A label requirement: key, operator and values.",
            required: ["key", "operator"],
            ("key", new V1JSONSchemaProps { Type = "string", MaxLength = 317, Description = "Label key." }),
            ("operator", new V1JSONSchemaProps
            {
                Type = "string", EnumProperty = ["In", "NotIn", "Exists", "DoesNotExist"],
                Description = "In, NotIn, Exists or DoesNotExist.",
            }),
            ("values", new V1JSONSchemaProps
            {
                Type = "array", MaxItems = 64, XKubernetesListType = "atomic",
                Items = new V1JSONSchemaProps { Type = "string", MaxLength = 63 },
                Description = "Label values: non-empty for In and NotIn, empty for Exists and DoesNotExist.",
            }));
        var selector = Object(
            "A metav1.LabelSelector; matchLabels and matchExpressions are ANDed, and an empty selector matches everything.",
            required: [],
            ("matchLabels", new V1JSONSchemaProps
            {
                Type = "object", MaxProperties = 32,
                AdditionalProperties = new V1JSONSchemaProps { Type = "string", MaxLength = 63 },
                Description = "Labels that must all be present with these values.",
            }),
            ("matchExpressions", new V1JSONSchemaProps
            {
                Type = "array", MaxItems = 16, XKubernetesListType = "atomic", Items = requirement,
                Description = "Label requirements that must all hold.",
            }));
        selector.XKubernetesMapType = "atomic";
        return selector;
    }

    private static V1JSONSchemaProps Object(string description, string[] required,
        params (string Name, V1JSONSchemaProps Schema)[] properties)
    {
        var schema = new V1JSONSchemaProps
        {
            Type = "object",
            Description = description,
            Properties = new SortedDictionary<string, V1JSONSchemaProps>(StringComparer.Ordinal),
        };
        foreach (var (name, property) in properties)
            schema.Properties.Add(name, property);
        if (required.Length > 0)
            schema.Required = required.Order(StringComparer.Ordinal).ToList();
        return schema;
    }
}
