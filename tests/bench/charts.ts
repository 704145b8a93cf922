/**
 * Static SVG charts for the benchmark report, drawn by ECharts' server-side SVG renderer (a
 * string, no DOM, no canvas, no animation). The same input gives the same SVG.
 */
import { BarChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, TitleComponent } from "echarts/components";
import { init, use } from "echarts/core";
import { SVGRenderer } from "echarts/renderers";

use([BarChart, LineChart, GridComponent, LegendComponent, TitleComponent, SVGRenderer]);

export interface ChartSeries {
  name: string;
  /** One value per category; null leaves a gap. */
  values: readonly (number | null)[];
}

export interface Chart {
  kind: "bar" | "line";
  title: string;
  /** The x axis, left to right. */
  categories: readonly string[];
  /** One series: plain bars; several: grouped bars (or lines) with a legend. */
  series: readonly ChartSeries[];
  /** The y axis's name, with its unit, e.g. "pods/s". */
  yName: string;
  xName?: string;
  width?: number;
  height?: number;
}

/** Colour-blind-safe (Okabe–Ito), in series order. */
const palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"];

/** Two significant digits past the point at most: 0.123 → 0.12, 246.3 → 246, 12.34 → 12.3. */
export function formatValue(value: number): string {
  if (value === 0 || Math.abs(value) >= 100) return String(Math.round(value));
  if (Math.abs(value) >= 10) return String(Math.round(value * 10) / 10);
  return String(Math.round(value * 100) / 100);
}

export function renderChart(chart: Chart): string {
  const legend = chart.series.length > 1;
  const instance = init(null, null, {
    renderer: "svg",
    ssr: true,
    width: chart.width ?? 720,
    height: chart.height ?? 360,
  });
  try {
    instance.setOption({
      animation: false,
      backgroundColor: "#ffffff",
      color: palette,
      textStyle: { fontFamily: "sans-serif" },
      title: { text: chart.title, left: "center", top: 8, textStyle: { fontSize: 15 } },
      ...(legend ? { legend: { top: 34, itemGap: 28, data: chart.series.map((s) => s.name) } } : {}),
      grid: { left: 56, right: 24, top: legend ? 84 : 64, bottom: chart.xName ? 56 : 36 },
      xAxis: {
        type: "category",
        data: [...chart.categories],
        axisLabel: { interval: 0 },
        ...(chart.xName ? { name: chart.xName, nameLocation: "middle", nameGap: 28 } : {}),
      },
      yAxis: { type: "value", name: chart.yName, nameTextStyle: { align: "left" } },
      series: chart.series.map((s) => ({
        name: s.name,
        type: chart.kind,
        data: [...s.values],
        label: {
          show: true,
          position: "top",
          fontSize: 11,
          formatter: (p: { value: unknown }) => (typeof p.value === "number" ? formatValue(p.value) : ""),
        },
        ...(chart.kind === "bar" ? { barMaxWidth: 56 } : { symbolSize: 7 }),
      })),
    });
    return `${numberClassesAfresh(instance.renderToSVGString())}\n`;
  } finally {
    instance.dispose();
  }
}

/**
 * ECharts numbers its instances (zr0-, zr1-… in ids and class names) and style classes
 * (cls-0, cls-7…) per process: number them afresh in each SVG, so that a chart does not depend
 * on the charts drawn before it.
 */
function numberClassesAfresh(svg: string): string {
  const renumbered = new Map<string, number>();
  return svg.replace(/\bzr\d+-/g, "zr-").replace(/\bzr-cls-\d+\b/g, (name) => {
    const index = renumbered.get(name) ?? renumbered.size;
    renumbered.set(name, index);
    return `zr-cls-${index}`;
  });
}
