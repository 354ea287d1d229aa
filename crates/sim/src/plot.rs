//! Line charts with error bars, written as SVG by hand: no fonts, no system libraries, and the
//! same numbers always give the same bytes.

use std::fmt::Write as _;

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;
const COLOURS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

/// One point, with an optional error bar from `low` to `high`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Horizontal value.
    pub x: f64,
    /// Vertical value.
    pub y: f64,
    /// Bottom of the error bar (the 1st percentile in the paper's figures).
    pub low: Option<f64>,
    /// Top of the error bar (the 99th percentile).
    pub high: Option<f64>,
}

impl Point {
    /// A point without error bar.
    pub fn new(x: f64, y: f64) -> Point {
        Point {
            x,
            y,
            low: None,
            high: None,
        }
    }

    /// A point with an error bar.
    pub fn with_bar(x: f64, y: f64, low: f64, high: f64) -> Point {
        Point {
            x,
            y,
            low: Some(low),
            high: Some(high),
        }
    }
}

/// A named line.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Points, drawn in order.
    pub points: Vec<Point>,
    /// Dashed (for reference curves such as the paper's numbers or ½·log₂N).
    pub dashed: bool,
}

impl Series {
    /// A solid line.
    pub fn solid(name: &str, points: Vec<Point>) -> Series {
        Series {
            name: name.to_string(),
            points,
            dashed: false,
        }
    }

    /// A dashed line.
    pub fn dashed(name: &str, points: Vec<Point>) -> Series {
        Series {
            name: name.to_string(),
            points,
            dashed: true,
        }
    }
}

/// A chart: title, axis labels and lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    /// Title above the plot.
    pub title: String,
    /// Label of the horizontal axis.
    pub x_label: String,
    /// Label of the vertical axis.
    pub y_label: String,
    /// Logarithmic horizontal axis (base 10 ticks).
    pub log_x: bool,
    /// The lines.
    pub series: Vec<Series>,
}

struct Axis {
    min: f64,
    max: f64,
    log: bool,
}

impl Axis {
    fn fit(values: impl Iterator<Item = f64>, log: bool, from_zero: bool) -> Axis {
        let mut min = f64::INFINITY;
        let mut max = f64::NEG_INFINITY;
        for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
            let v = if log { v.log10() } else { v };
            min = min.min(v);
            max = max.max(v);
        }
        if !min.is_finite() {
            (min, max) = (0.0, 1.0);
        }
        if from_zero && !log {
            min = min.min(0.0);
        }
        if max - min < 1e-12 {
            max = min + 1.0;
        }
        let pad = if log { 0.05 } else { 0.0 } * (max - min);
        Axis {
            min: min - pad,
            max: max + (max - min) * 0.05,
            log,
        }
    }

    fn unit(&self, v: f64) -> f64 {
        let v = if self.log {
            v.max(f64::MIN_POSITIVE).log10()
        } else {
            v
        };
        (v - self.min) / (self.max - self.min)
    }

    /// Tick positions (in data units) and labels.
    fn ticks(&self) -> Vec<(f64, String)> {
        if self.log {
            let lo = self.min.floor() as i32;
            let hi = self.max.ceil() as i32;
            return (lo..=hi)
                .map(|e| 10f64.powi(e))
                .filter(|v| (self.min..=self.max).contains(&v.log10()))
                .map(|v| (v, label(v)))
                .collect();
        }
        let span = self.max - self.min;
        let raw = span / 6.0;
        let magnitude = 10f64.powf(raw.log10().floor());
        let step = [1.0, 2.0, 5.0, 10.0]
            .iter()
            .map(|m| m * magnitude)
            .find(|s| *s >= raw)
            .unwrap_or(magnitude * 10.0);
        let mut out = Vec::new();
        let mut v = (self.min / step).ceil() * step;
        while v <= self.max + step * 1e-9 && out.len() < 20 {
            out.push((v, label(v)));
            v += step;
        }
        out
    }
}

fn label(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-3..1e5).contains(&a) {
        format!("{v:.0e}")
    } else if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_string()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Chart {
    /// The chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let points = || self.series.iter().flat_map(|s| s.points.iter());
        let x = Axis::fit(points().map(|p| p.x), self.log_x, false);
        let y = Axis::fit(
            points().flat_map(|p| [Some(p.y), p.low, p.high]).flatten(),
            false,
            true,
        );
        let plot_w = WIDTH - LEFT - RIGHT;
        let plot_h = HEIGHT - TOP - BOTTOM;
        let px = |v: f64| LEFT + x.unit(v) * plot_w;
        let py = |v: f64| TOP + (1.0 - y.unit(v)) * plot_h;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="22" text-anchor="middle" font-size="15">{}</text>"#,
            WIDTH / 2.0,
            escape(&self.title)
        );
        let _ = writeln!(
            svg,
            r#"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="black"/>"#
        );
        for (v, text) in x.ticks() {
            let at = px(v);
            let _ = writeln!(
                svg,
                r##"<line x1="{at:.1}" y1="{TOP}" x2="{at:.1}" y2="{}" stroke="#ddd"/><text x="{at:.1}" y="{}" text-anchor="middle">{text}</text>"##,
                TOP + plot_h,
                TOP + plot_h + 16.0
            );
        }
        for (v, text) in y.ticks() {
            let at = py(v);
            let _ = writeln!(
                svg,
                r##"<line x1="{LEFT}" y1="{at:.1}" x2="{}" y2="{at:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{text}</text>"##,
                LEFT + plot_w,
                LEFT - 6.0,
                at + 4.0
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            LEFT + plot_w / 2.0,
            HEIGHT - 18.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            svg,
            r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"#,
            TOP + plot_h / 2.0,
            TOP + plot_h / 2.0,
            escape(&self.y_label)
        );
        for (i, series) in self.series.iter().enumerate() {
            let colour = COLOURS[i % COLOURS.len()];
            let dash = if series.dashed {
                r#" stroke-dasharray="6 4""#
            } else {
                ""
            };
            let path: Vec<String> = series
                .points
                .iter()
                .map(|p| format!("{:.1},{:.1}", px(p.x), py(p.y)))
                .collect();
            let _ = writeln!(
                svg,
                r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="1.5"{dash}/>"#,
                path.join(" ")
            );
            for p in &series.points {
                let _ = writeln!(
                    svg,
                    r#"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="{colour}"/>"#,
                    px(p.x),
                    py(p.y)
                );
                if let (Some(low), Some(high)) = (p.low, p.high) {
                    let (cx, top, bottom) = (px(p.x), py(high), py(low));
                    let _ = writeln!(
                        svg,
                        r#"<path d="M{:.1},{top:.1}H{:.1}M{cx:.1},{top:.1}V{bottom:.1}M{:.1},{bottom:.1}H{:.1}" stroke="{colour}" fill="none"/>"#,
                        cx - 4.0,
                        cx + 4.0,
                        cx - 4.0,
                        cx + 4.0
                    );
                }
            }
            let ly = TOP + 14.0 + 16.0 * i as f64;
            let lx = LEFT + 12.0;
            let _ = writeln!(
                svg,
                r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{colour}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
                lx + 22.0,
                lx + 28.0,
                ly + 4.0,
                escape(&series.name)
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_is_deterministic_and_complete() {
        let chart = Chart {
            title: "t <1>".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_x: true,
            series: vec![Series::solid(
                "s",
                vec![
                    Point::with_bar(10.0, 1.0, 0.5, 2.0),
                    Point::new(1000.0, 3.0),
                ],
            )],
        };
        let a = chart.to_svg();
        assert_eq!(a, chart.to_svg());
        assert!(a.starts_with("<svg") && a.ends_with("</svg>\n"));
        assert!(a.contains("t &lt;1&gt;"));
        assert!(a.contains(">100<"), "log ticks at powers of ten");
    }
}
