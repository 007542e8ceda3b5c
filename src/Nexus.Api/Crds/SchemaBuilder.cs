using System.ComponentModel;
using System.Reflection;
using System.Runtime.Serialization;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using k8s;
using k8s.Models;

namespace Nexus.Api.Crds;

/// <summary>
/// Builds a structural OpenAPI v3 schema from an API type by reflection: JSON names from [JsonPropertyName], types
/// from the CLR types, everything else from the schema attributes. It refuses (throws) on what a real API server
/// would reject or what would make CEL cost unbounded: a property without a description, a list without maxItems, a
/// map without maxProperties, a default it cannot read.
/// </summary>
internal static class SchemaBuilder
{
    public static V1JSONSchemaProps ForKind(Type kind)
    {
        var schema = ForObject(kind, Describe(kind, null)
            ?? throw new InvalidOperationException($"{kind.Name} has no [Description]: kubectl explain shows it."));
        foreach (var (name, standard) in StandardFields())
            schema.Properties[name] = standard;
        return schema;
    }

    private static IEnumerable<(string Name, V1JSONSchemaProps Schema)> StandardFields()
    {
        yield return ("apiVersion", new V1JSONSchemaProps
        {
            Type = "string",
            Description = "Versioned schema of this representation of an object; servers convert recognized schemas " +
                          "to the latest internal value. See https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
        });
        yield return ("kind", new V1JSONSchemaProps
        {
            Type = "string",
            Description = "REST resource this object represents, in CamelCase. See " +
                          "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
        });
        yield return ("metadata", KubernetesSchemas.ObjectMeta());
    }

    private static V1JSONSchemaProps ForObject(Type type, string? description)
    {
        var schema = new V1JSONSchemaProps
        {
            Type = "object",
            Description = description,
            Properties = new SortedDictionary<string, V1JSONSchemaProps>(StringComparer.Ordinal),
        };
        var required = new List<string>();
        object? defaults = null;
        foreach (var property in DataProperties(type))
        {
            var name = JsonName(property);
            if (name is "apiVersion" or "kind" or "metadata")
                continue; // the kind's standard fields, described once in StandardFields
            var propertySchema = ForProperty(property, type, ref defaults);
            if (!schema.Properties.TryAdd(name, propertySchema))
                throw new InvalidOperationException($"{type.Name}: two properties are named '{name}' in JSON.");
            if (property.IsDefined(typeof(RequiredAttribute)))
                required.Add(name);
        }
        if (required.Count > 0)
            schema.Required = required.Order(StringComparer.Ordinal).ToList();
        var rules = ClassRules(type).ToList();
        if (rules.Count > 0)
            schema.XKubernetesValidations = rules;
        return schema;
    }

    private static V1JSONSchemaProps ForProperty(PropertyInfo property, Type owner, ref object? defaults)
    {
        var where = $"{owner.Name}.{property.Name}";
        var type = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
        var schema = ForType(type, where);
        schema.Description = Describe(property, null) ?? Describe(type, null)
            ?? throw new InvalidOperationException($"{where} has no [Description]: every field needs one for kubectl explain.");

        ApplyBounds(property, schema, where);
        if (property.IsDefined(typeof(DefaultAttribute)))
        {
            defaults ??= Activator.CreateInstance(owner)
                ?? throw new InvalidOperationException($"{owner.Name} cannot be created to read its defaults.");
            schema.DefaultProperty = DefaultValue(property.GetValue(defaults), type, where);
        }
        var rules = property.GetCustomAttributes<CelRuleAttribute>().Select(Rule).ToList();
        if (rules.Count > 0)
            schema.XKubernetesValidations = rules;
        return schema;
    }

    private static V1JSONSchemaProps ForType(Type type, string where)
    {
        if (type == typeof(string))
            return new V1JSONSchemaProps { Type = "string" };
        if (type == typeof(bool))
            return new V1JSONSchemaProps { Type = "boolean" };
        if (type == typeof(int))
            return new V1JSONSchemaProps { Type = "integer", Format = "int32" };
        if (type == typeof(long))
            return new V1JSONSchemaProps { Type = "integer", Format = "int64" };
        if (type == typeof(double))
            return new V1JSONSchemaProps { Type = "number", Format = "double" };
        if (type == typeof(DateTime) || type == typeof(DateTimeOffset))
            return new V1JSONSchemaProps { Type = "string", Format = "date-time" };
        if (type.IsEnum)
            return new V1JSONSchemaProps { Type = "string", EnumProperty = EnumNames(type).Cast<object>().ToList() };
        if (type == typeof(IntOrString))
            return KubernetesSchemas.IntOrString();
        if (type == typeof(ResourceQuantity))
            return KubernetesSchemas.Quantity();
        if (type == typeof(V1ObjectMeta))
            return KubernetesSchemas.ObjectMeta();
        if (KubernetesSchemas.TryGet(type, out var known))
            return known;
        if (DictionaryValueType(type) is { } valueType)
            return new V1JSONSchemaProps { Type = "object", AdditionalProperties = ForItem(valueType, where) };
        if (ListItemType(type) is { } itemType)
            return new V1JSONSchemaProps { Type = "array", Items = ForItem(itemType, where) };
        if (type.IsClass && type.Namespace?.StartsWith("Nexus.Api", StringComparison.Ordinal) == true)
            return ForObject(type, null);
        throw new InvalidOperationException($"{where}: no schema for {type.FullName}.");
    }

    /// <summary>The schema of a list item or map value: objects keep their type's description.</summary>
    private static V1JSONSchemaProps ForItem(Type type, string where)
    {
        var schema = ForType(type, where + "[]");
        if (schema.Type == "object" && schema.Description is null)
            schema.Description = Describe(type, null);
        return schema;
    }

    private static void ApplyBounds(PropertyInfo property, V1JSONSchemaProps schema, string where)
    {
        // String bounds apply to the strings themselves: the field, a list's items or a map's values.
        var strings = schema.Type switch
        {
            "array" => (V1JSONSchemaProps)schema.Items,
            "object" when schema.AdditionalProperties is V1JSONSchemaProps values => values,
            _ => schema,
        };
        if (property.GetCustomAttribute<MinLengthAttribute>() is { } minLength)
            RequireType(strings, "string", where, "[MinLength]").MinLength = minLength.Value;
        if (property.GetCustomAttribute<MaxLengthAttribute>() is { } maxLength)
            RequireType(strings, "string", where, "[MaxLength]").MaxLength = maxLength.Value;
        if (property.GetCustomAttribute<PatternAttribute>() is { } pattern)
        {
            if (strings.Type != "string" && strings.XKubernetesIntOrString != true)
                throw new InvalidOperationException($"{where}: [Pattern] needs a string or int-or-string field.");
            strings.Pattern = pattern.Value;
        }

        if (property.GetCustomAttribute<MinimumAttribute>() is { } minimum)
        {
            RequireNumber(schema, where, "[Minimum]").Minimum = minimum.Value;
            if (minimum.Exclusive)
                schema.ExclusiveMinimum = true;
        }
        if (property.GetCustomAttribute<MaximumAttribute>() is { } maximum)
        {
            RequireNumber(schema, where, "[Maximum]").Maximum = maximum.Value;
            if (maximum.Exclusive)
                schema.ExclusiveMaximum = true;
        }

        if (schema.Type == "array")
        {
            schema.MaxItems = property.GetCustomAttribute<MaxItemsAttribute>()?.Value
                ?? throw new InvalidOperationException($"{where} is a list without [MaxItems]: CEL cost would be unbounded.");
            if (property.GetCustomAttribute<MinItemsAttribute>() is { } minItems)
                schema.MinItems = minItems.Value;
            if (property.GetCustomAttribute<ListMapAttribute>() is { } listMap)
            {
                schema.XKubernetesListType = "map";
                schema.XKubernetesListMapKeys = listMap.Keys.ToList();
            }
            else
            {
                schema.XKubernetesListType = property.IsDefined(typeof(ListSetAttribute)) ? "set" : "atomic";
            }
        }
        else if (property.IsDefined(typeof(MaxItemsAttribute)) || property.IsDefined(typeof(ListMapAttribute)) ||
                 property.IsDefined(typeof(ListSetAttribute)) || property.IsDefined(typeof(MinItemsAttribute)))
        {
            throw new InvalidOperationException($"{where}: list attributes on a field that is not a list.");
        }

        if (schema.Type == "object" && schema.AdditionalProperties is not null)
        {
            schema.MaxProperties = property.GetCustomAttribute<MaxPropertiesAttribute>()?.Value
                ?? throw new InvalidOperationException($"{where} is a map without [MaxProperties]: CEL cost would be unbounded.");
        }
    }

    private static V1JSONSchemaProps RequireType(V1JSONSchemaProps schema, string type, string where, string attribute) =>
        schema.Type == type ? schema : throw new InvalidOperationException($"{where}: {attribute} needs a {type} field.");

    private static V1JSONSchemaProps RequireNumber(V1JSONSchemaProps schema, string where, string attribute) =>
        schema.Type is "integer" or "number" ? schema : throw new InvalidOperationException($"{where}: {attribute} needs a number field.");

    /// <summary>
    /// The default the C# type gives a new instance, in JSON form: objects become <c>{}</c> (their own fields carry
    /// their own defaults), everything else is what KubernetesJson writes for the value.
    /// </summary>
    private static object DefaultValue(object? value, Type type, string where)
    {
        if (value is null)
            throw new InvalidOperationException($"{where} has [Default] but a new instance holds null.");
        if (type.IsClass && type != typeof(string) && type != typeof(IntOrString) && type != typeof(ResourceQuantity))
            return new Dictionary<string, object>();
        var node = JsonNode.Parse(KubernetesJson.Serialize(value)) as JsonValue
            ?? throw new InvalidOperationException($"{where}: the default is not a JSON scalar.");
        if (node.TryGetValue<string>(out var text))
            return text;
        if (node.TryGetValue<bool>(out var flag))
            return flag;
        if (node.TryGetValue<long>(out var integer))
            return integer;
        if (node.TryGetValue<double>(out var number))
            return number;
        throw new InvalidOperationException($"{where}: unsupported default {node.ToJsonString()}.");
    }

    /// <summary>The type's class-level rules, base classes first, so a derived type's node reads like its C#.</summary>
    private static IEnumerable<V1ValidationRule> ClassRules(Type type)
    {
        var chain = new Stack<Type>();
        for (var current = type; current is not null && current != typeof(object); current = current.BaseType)
            chain.Push(current);
        return chain.SelectMany(t => t.GetCustomAttributes<CelRuleAttribute>(inherit: false)).Select(Rule);
    }

    private static V1ValidationRule Rule(CelRuleAttribute rule) =>
        new() { Rule = rule.Rule, Message = rule.Message, FieldPath = rule.FieldPath };

    /// <summary>The serialised properties of an API type: public instance properties with a JSON name.</summary>
    internal static IEnumerable<PropertyInfo> DataProperties(Type type) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.GetIndexParameters().Length == 0 && !p.IsDefined(typeof(JsonIgnoreAttribute)));

    internal static string JsonName(PropertyInfo property) =>
        property.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name
        ?? throw new InvalidOperationException(
            $"{property.DeclaringType?.Name}.{property.Name} has no [JsonPropertyName]: the JSON name must be explicit.");

    /// <summary>The names an enum serialises to: [JsonStringEnumMemberName] where given, else the member name.</summary>
    internal static IReadOnlyList<string> EnumNames(Type type) =>
        type.GetFields(BindingFlags.Public | BindingFlags.Static)
            .OrderBy(f => Convert.ToInt64(f.GetRawConstantValue(), System.Globalization.CultureInfo.InvariantCulture))
            .Select(f => f.GetCustomAttribute<JsonStringEnumMemberNameAttribute>()?.Name
                         ?? f.GetCustomAttribute<EnumMemberAttribute>()?.Value
                         ?? f.Name)
            .ToList();

    private static string? Describe(MemberInfo member, string? fallback) =>
        member.GetCustomAttribute<DescriptionAttribute>()?.Description ?? fallback;

    private static Type? ListItemType(Type type)
    {
        if (type.IsArray)
            return type.GetElementType();
        var list = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IList<>)
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IList<>));
        return list?.GetGenericArguments()[0];
    }

    private static Type? DictionaryValueType(Type type)
    {
        var dictionary = type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IDictionary<,>)
            ? type
            : type.GetInterfaces().FirstOrDefault(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IDictionary<,>));
        if (dictionary is null)
            return null;
        var arguments = dictionary.GetGenericArguments();
        return arguments[0] == typeof(string)
            ? arguments[1]
            : throw new InvalidOperationException($"{type}: map keys must be strings.");
    }
}
