{#- The KPI marts (kpi_daily, kpi_monthly) compiled from the semantic layer.

    Why: every KPI has ONE definition, the metric in models/metrics/_kpi__semantic_models.yml
    (what MetricFlow queries). This macro writes no formula of its own: at run time it reads
    the parsed semantic models and metrics from dbt's graph and turns each metric that the
    calling model documents as a column into SQL at the requested grain, so a change to a
    metric changes the marts on the next build. evaluation/kpi_reference.py compiles the same
    YAML for Python and tests; tests/dbt/test_kpi_definitions.py checks all three agree.

    Semantics (as MetricFlow): a simple metric aggregates its measure over the rows whose
    agg_time_dimension falls in the period; a measure with a non_additive_dimension (window
    min) takes the period's first day's value; ratio = numerator / denominator (null when the
    denominator is 0); derived metrics evaluate their expr over their input metrics; an input
    with fill_nulls_with counts that value in a period without rows. One row per period from
    the first to the last period of the first metric column's data (the order span). An
    additive count or sum over no rows is 0 in the mart; averages and ratios stay null.
    The column's contract data_type gives the SQL type of the value.

    The calling model must declare its inputs with `-- depends_on: {{ ref('...') }}` (dbt
    cannot see refs made at run time); a missing one is a compile error naming it. -#}
{% macro kpis(grain) %}
{%- if not execute -%}
select 1 as period_start
{%- else -%}
{%- set layer = _kpi_semantic_layer() -%}
{%- set columns = [] -%}
{%- for name, column in model.columns.items() if name in layer.metrics -%}
    {%- do columns.append(column) -%}
{%- endfor -%}
{%- if not columns -%}
    {{ exceptions.raise_compiler_error(model.name ~ ": no column is a metric of the semantic layer") }}
{%- endif -%}
{#- which measures the columns need, and the models they read -#}
{%- set needed = [] -%}
{%- for column in columns -%}
    {%- do _kpi_collect_measures(layer, column.name, needed) -%}
{%- endfor -%}
{%- for measure_name in needed -%}
    {%- set node_id = layer.measures[measure_name].node_id -%}
    {%- if node_id not in model.depends_on.nodes -%}
        {{ exceptions.raise_compiler_error(model.name ~ ": metric input " ~ node_id
           ~ " is not a declared dependency; add -- depends_on: {{ ref('"
           ~ node_id.split('.')[-1] ~ "') }}") }}
    {%- endif -%}
{%- endfor -%}
{%- set spine = layer.measures[_kpi_first_measure(layer, columns[0].name)] -%}
with span as (
    select min({{ spine.time_expr }})::date as lo, max({{ spine.time_expr }})::date as hi
    from {{ spine.relation }}
),
periods as (
    select distinct date_trunc('{{ grain }}', d)::date as period_start
    from span, unnest(generate_series(span.lo::timestamp, span.hi::timestamp, interval 1 day)) as t(d)
)
{%- for measure_name in needed %}
{%- set m = layer.measures[measure_name] %},
m_{{ measure_name }} as (
{%- if m.first_day_value %}
    select date_trunc('{{ grain }}', t)::date as period_start, arg_min(v, t) as value
    from (select ({{ m.time_expr }})::date as t, {{ m.aggregate }} as v
          from {{ m.relation }} group by 1) as per_day
    group by 1
{%- else %}
    select date_trunc('{{ grain }}', {{ m.time_expr }})::date as period_start, {{ m.aggregate }} as value
    from {{ m.relation }}
    group by 1
{%- endif %}
)
{%- endfor %}
select
    p.period_start,
    (p.period_start + interval 1 {{ grain }} - interval 1 day)::date as period_end
{%- for column in columns %},
    {% if _kpi_is_additive(layer, column.name) %}coalesce({{ _kpi_metric_sql(layer, column.name) }}, 0){% else %}({{ _kpi_metric_sql(layer, column.name) }}){% endif %}::{{ column.data_type or 'double' }} as {{ column.name }}
{%- endfor %}
from periods as p
{%- for measure_name in needed %}
left join m_{{ measure_name }} using (period_start)
{%- endfor %}
{%- endif -%}
{% endmacro %}


{#- The semantic layer from dbt's graph: {metrics: {name: metric}, measures: {name: {...}}} with
    each measure's aggregate SQL, time expression, relation and model node. -#}
{% macro _kpi_semantic_layer() %}
{%- set aggregates = {'sum': 'sum(@)', 'average': 'avg(@)', 'count_distinct': 'count(distinct @)',
                      'count': 'count(@)', 'min': 'min(@)', 'max': 'max(@)'} -%}
{%- set metrics = {} -%}
{%- for metric in graph.metrics.values() -%}
    {%- do metrics.update({metric.name: metric}) -%}
{%- endfor -%}
{%- set measures = {} -%}
{%- for sm in graph.semantic_models.values() -%}
    {%- set dimensions = {} -%}
    {%- for d in sm.dimensions -%}
        {%- do dimensions.update({d.name: d.expr or d.name}) -%}
    {%- endfor -%}
    {%- for raw in sm.measures -%}
        {%- if raw.agg not in aggregates -%}
            {{ exceptions.raise_compiler_error(sm.original_file_path ~ ": measure " ~ raw.name
               ~ " has aggregation " ~ raw.agg ~ ", which the KPI marts do not support") }}
        {%- endif -%}
        {%- set non_additive = raw.non_additive_dimension -%}
        {%- if non_additive and (non_additive.window_choice or 'min') != 'min' -%}
            {{ exceptions.raise_compiler_error(sm.original_file_path ~ ": measure " ~ raw.name
               ~ ": only window_choice min is supported") }}
        {%- endif -%}
        {%- set time_dimension = raw.agg_time_dimension or sm.defaults.agg_time_dimension -%}
        {%- do measures.update({raw.name: {
                'aggregate': aggregates[raw.agg].replace('@', raw.expr or raw.name),
                'additive': raw.agg in ('sum', 'count', 'count_distinct'),
                'time_expr': dimensions[time_dimension],
                'relation': sm.node_relation.relation_name,
                'node_id': sm.depends_on.nodes[0],
                'first_day_value': non_additive is not none and non_additive != {}}}) -%}
    {%- endfor -%}
{%- endfor -%}
{%- do return({'metrics': metrics, 'measures': measures}) -%}
{% endmacro %}


{#- The input metrics of a ratio or derived metric, by name. -#}
{% macro _kpi_inputs(metric) %}
{%- set params = metric.type_params -%}
{%- if metric.type == 'ratio' -%}
    {%- do return([params.numerator.name, params.denominator.name]) -%}
{%- elif metric.type == 'derived' -%}
    {%- do return(params.metrics | map(attribute='name') | list) -%}
{%- else -%}
    {{ exceptions.raise_compiler_error("metric " ~ metric.name ~ " has type " ~ metric.type
       ~ ", which the KPI marts do not support") }}
{%- endif -%}
{% endmacro %}


{% macro _kpi_collect_measures(layer, metric_name, needed) %}
{%- set metric = layer.metrics[metric_name] -%}
{%- if metric.type == 'simple' -%}
    {%- if metric.type_params.measure.name not in needed -%}
        {%- do needed.append(metric.type_params.measure.name) -%}
    {%- endif -%}
{%- else -%}
    {%- for input in _kpi_inputs(metric) -%}
        {%- do _kpi_collect_measures(layer, input, needed) -%}
    {%- endfor -%}
{%- endif -%}
{% endmacro %}


{% macro _kpi_first_measure(layer, metric_name) %}
{%- set needed = [] -%}
{%- do _kpi_collect_measures(layer, metric_name, needed) -%}
{%- do return(needed[0]) -%}
{% endmacro %}


{#- A simple metric over a sum or count (without its own fill_nulls_with): no rows in a period
    means 0, not unknown. -#}
{% macro _kpi_is_additive(layer, metric_name) %}
{%- set metric = layer.metrics[metric_name] -%}
{%- do return(metric.type == 'simple' and metric.type_params.measure.fill_nulls_with is none
              and layer.measures[metric.type_params.measure.name].additive) -%}
{% endmacro %}


{#- The SQL value of one metric in a period (columns m_<measure>.value of the joined CTEs). -#}
{% macro _kpi_metric_sql(layer, metric_name) %}
{%- set metric = layer.metrics[metric_name] -%}
{%- set params = metric.type_params -%}
{%- if metric.type == 'simple' -%}
    {%- set value = 'm_' ~ params.measure.name ~ '.value' -%}
    {%- if params.measure.fill_nulls_with is not none -%}
        {%- do return('coalesce(' ~ value ~ ', ' ~ params.measure.fill_nulls_with ~ ')') -%}
    {%- endif -%}
    {%- do return(value) -%}
{%- elif metric.type == 'ratio' -%}
    {%- do return('(' ~ _kpi_metric_sql(layer, params.numerator.name) ~ ')::double / nullif('
                  ~ _kpi_metric_sql(layer, params.denominator.name) ~ ', 0)') -%}
{%- else -%}
    {#- two passes through placeholders, so an input's SQL is never rewritten by a later input -#}
    {%- set ns = namespace(expr=params.expr) -%}
    {%- set inputs = _kpi_inputs(metric) -%}
    {%- for input in inputs -%}
        {%- set ns.expr = modules.re.sub('\\b' ~ input ~ '\\b', '__kpi_input_' ~ loop.index ~ '__', ns.expr) -%}
    {%- endfor -%}
    {%- for input in inputs -%}
        {%- set ns.expr = ns.expr.replace('__kpi_input_' ~ loop.index ~ '__',
                                          '(' ~ _kpi_metric_sql(layer, input) ~ ')::double') -%}
    {%- endfor -%}
    {%- do return('(' ~ ns.expr ~ ')') -%}
{%- endif -%}
{% endmacro %}
