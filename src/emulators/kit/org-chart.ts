import { pickWith, type Random } from './seeded-random.ts';

/** Who a generated person is, whom they report to, and which department they are in. */
export interface PersonOutline {
  given: string;
  family: string;
  /** `given.family.index` lower-cased (`admin` for the first person): the local part of their login. */
  local: string;
  /** Their manager's index: a tree of fan-out 8 under person 0, who has none (-1). */
  managerIndex: number;
  /** An index into the generator's departments; a report is mostly in their manager's. */
  department: number;
}

export interface OrgChartOptions {
  givenNames: readonly string[];
  familyNames: readonly string[];
  /** The first person's family name (their given name is `Admin`). */
  adminFamily: string;
  departmentCount: number;
}

/**
 * The shape every emulator's generated org shares, drawn person after person from the generator's own
 * seeded random (two names, then the department), so each generator's other draws stay where they were.
 */
export class OrgChart {
  /** Each person's department, by index. */
  readonly departments: number[] = [];
  private readonly pick: <T>(items: readonly T[]) => T;

  constructor(
    private readonly random: Random,
    private readonly options: OrgChartOptions,
  ) {
    this.pick = pickWith(random);
  }

  /** The next person (index `departments.length`). */
  next(): PersonOutline {
    const i = this.departments.length;
    const given = i === 0 ? 'Admin' : this.pick(this.options.givenNames);
    const family = i === 0 ? this.options.adminFamily : this.pick(this.options.familyNames);
    const local = i === 0 ? 'admin' : `${given}.${family}.${i}`.toLowerCase();
    const managerIndex = i === 0 ? -1 : Math.floor((i - 1) / 8);
    const department = managerIndex >= 0 && this.random() < 0.85 ? this.departments[managerIndex]! : Math.floor(this.random() * this.options.departmentCount);
    this.departments.push(department);
    return { given, family, local, managerIndex, department };
  }
}
