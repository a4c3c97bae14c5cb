/** Names, departments and titles the org generators draw people from; spread across cultures on purpose. */
export const GIVEN_NAMES = ['Ada', 'Bruno', 'Chiara', 'Dmitri', 'Elif', 'Farid', 'Greta', 'Hiro', 'Ines', 'Jonas', 'Kemi', 'Lars', 'Mei', 'Nadia', 'Omar', 'Priya', 'Quinn', 'Rosa', 'Sven', 'Tariq', 'Uma', 'Vera', 'Wen', 'Xavier', 'Yara', 'Zoe'] as const;
export const FAMILY_NAMES = ['Abe', 'Brandt', 'Costa', 'Diaz', 'Eriksen', 'Fischer', 'Garcia', 'Haddad', 'Ito', 'Jansen', 'Kowalski', 'Lopez', 'Moreau', 'Nakamura', 'Okafor', 'Petrov', 'Rossi', 'Silva', 'Tanaka', 'Usman', 'Varga', 'Weber', 'Yilmaz', 'Zhang'] as const;
export const DEPARTMENTS = ['Engineering', 'Sales', 'Marketing', 'Finance', 'People', 'Legal', 'Support', 'Operations', 'Product', 'Design', 'Security', 'Research'] as const;
export const JOB_TITLES = ['Associate', 'Specialist', 'Senior Specialist', 'Lead', 'Manager', 'Director'] as const;
